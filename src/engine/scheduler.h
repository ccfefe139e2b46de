// Scheduler: decides, once per engine step, which sequences run and how many of their tokens
// (continuous batching with chunked prefill), over a paged KV cache with prefix caching and
// preemption by recomputation. Tensor-free; see docs/scheduling.md for the rules.
//
// Invariants between calls:
//   - every sequence added and not finished is in exactly one of waiting / running;
//   - a waiting sequence holds no KV blocks (block_table empty); a running one holds blocks for at
//     least its n_computed_tokens;
//   - running is ordered by urgency key (priority when enabled, then arrival_order, then seq_id),
//     so the last running sequence is the first one preempted.
// The scheduler does not own the sequences: the caller keeps each alive until finish() returns.
// Not thread-safe: it belongs to the engine thread, like the BlockManager it drives.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "engine/sequence.h"
#include "kv/block_manager.h"

namespace tokenmill {

struct SchedulerConfig {
  int32_t max_num_batched_tokens = 512;  // tokens per step: prefill chunks + decodes
  int32_t max_num_seqs = 64;             // running sequences (fork may exceed it, see fork())
  int32_t max_queued = 256;              // waiting sequences; add() beyond -> QueueFull
  bool priority = false;                 // false: FCFS; true: lower Sequence::priority first, then FCFS
  // Static batching, the baseline continuous batching is measured against (`bench ablate`): a
  // batch is admitted while none of its sequences decodes yet, then runs until every one of them
  // finished; requests arriving meanwhile wait.
  bool static_batches = false;
};

enum class AddResult {
  Ok,
  QueueFull,  // waiting already holds max_queued sequences: retry later
  TooLarge,   // max(tokens, max_tokens_total) exceeds the whole KV cache: can never run
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, BlockManager& block_manager);

  // Queues a sequence (status Waiting, sets arrival_order). Throws Error when it has no tokens,
  // holds blocks or was already added.
  AddResult add(Sequence* seq);

  // Plans one step. Running sequences first (decode: 1 token; unfinished prefill: the next chunk),
  // preempting the least urgent running sequences when blocks run out; then, if nothing was
  // preempted, admits waiting sequences in order while the token budget, max_num_seqs and blocks
  // allow. The head of waiting is never skipped (see docs/scheduling.md).
  SchedulerOutput schedule();

  // After the forward of `out`: n_computed_tokens += n_new_tokens for each scheduled sequence still
  // running, and their newly full blocks join the prefix cache. The engine appends sampled tokens
  // after this call.
  void on_step_done(const SchedulerOutput& out);

  // Normal finish or abort, from running or waiting: frees the blocks, status Finished.
  // Throws Error for a sequence that is already finished or unknown to this scheduler.
  void finish(Sequence* seq);

  // child becomes a copy of parent's state (tokens, counts, priority, arrival) sharing every block,
  // and joins running. parent must be running; child must be fresh (not added, no blocks). Children
  // count toward max_num_seqs only for later admissions. Call after on_step_done and before the
  // sampled tokens are appended; each choice then appends its own.
  void fork(Sequence* parent, Sequence* child);

  size_t n_waiting() const { return waiting_.size(); }
  size_t n_running() const { return running_.size(); }
  uint64_t n_preemptions_total() const { return n_preemptions_total_; }
  bool has_work() const { return !waiting_.empty() || !running_.empty(); }
  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::vector<Sequence*>& running() const { return running_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  bool more_urgent(const Sequence* a, const Sequence* b) const;
  void insert_running(Sequence* seq);
  void insert_waiting_by_key(Sequence* seq);
  void preempt(Sequence* victim, SchedulerOutput& out);
  void schedule_running(SchedulerOutput& out, int32_t& budget);
  void admit_waiting(SchedulerOutput& out, int32_t& budget);

  SchedulerConfig config_;
  BlockManager& blocks_;
  std::deque<Sequence*> waiting_;   // FCFS: arrival order, preempted ones at the front; priority: by key
  std::vector<Sequence*> running_;  // by urgency key
  uint64_t next_arrival_ = 0;
  uint64_t n_preemptions_total_ = 0;
};

}  // namespace tokenmill
