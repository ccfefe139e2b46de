// Sequence: one generation stream as the scheduler sees it (a request with n > 1 choices is several
// sequences forked from one). Tensor-free: the K/V live in KvStorage, addressed by block_table.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace tokenmill {

enum class SequenceStatus { Waiting, Running, Finished };

struct Sequence {
  int64_t seq_id = 0;           // unique among live sequences
  std::vector<int32_t> tokens;  // prompt followed by generated tokens
  int32_t n_prompt_tokens = 0;
  // Leading tokens whose K/V are in the cache (incl. prefix hits). 0 <= n_computed <= tokens.size().
  int32_t n_computed_tokens = 0;
  int32_t n_cached_tokens = 0;  // prompt tokens found in the prefix cache at the last admission
  // KV block of each logical block. Empty exactly when the sequence holds no blocks (waiting or
  // finished); while running, size >= ceil(n_computed_tokens / block_size).
  std::vector<int32_t> block_table;
  int32_t priority = 0;        // lower = more urgent (with priority scheduling)
  uint64_t arrival_order = 0;  // FCFS tie-break, set by the scheduler on add
  SequenceStatus status = SequenceStatus::Waiting;
  int32_t n_preemptions = 0;
  int32_t max_tokens_total = 0;  // prompt + generated may not exceed this (context limit)

  int32_t n_remaining() const { return int32_t(tokens.size()) - n_computed_tokens; }
};

struct ScheduledSequence {
  Sequence* seq;
  int32_t n_new_tokens;  // tokens [n_computed, n_computed + n_new) run this step
  bool samples;          // the chunk reaches the last token: the step samples one
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> scheduled;               // in batch order
  std::vector<std::pair<int32_t, int32_t>> block_copies;  // (src, dst) K/V copies before the forward (COW)
  std::vector<Sequence*> preempted;                       // preempted this step (already back in waiting)
  int32_t n_batched_tokens = 0;                           // sum of n_new_tokens
  bool empty() const { return scheduled.empty(); }
};

}  // namespace tokenmill
