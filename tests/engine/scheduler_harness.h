// A model-free engine loop for scheduler tests. The "model" writes, for each token it runs, a
// fingerprint of the sequence prefix ending at that token into the token's KV slot, then checks
// that every position the sequence attends to holds its own prefix's fingerprint. Wrong sharing
// (a bad prefix hit, a missing copy-on-write, a reused block) therefore shows up as a mismatch.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "kv/block_manager.h"

namespace tokenmill::sched_test {

class FakeEngine {
 public:
  FakeEngine(const SchedulerConfig& config, int32_t n_blocks, int32_t block_size, bool prefix_caching)
      : scheduler_config(config),
        blocks(n_blocks, block_size, prefix_caching),
        scheduler(config, blocks),
        kv_(size_t(n_blocks) * size_t(block_size), 0) {}

  // A fresh sequence that finishes when it holds target_len tokens (its max_tokens_total).
  Sequence* make(std::vector<int32_t> prompt, int32_t target_len, int32_t priority = 0) {
    auto seq = std::make_unique<Sequence>();
    seq->seq_id = next_seq_id_++;
    seq->n_prompt_tokens = int32_t(prompt.size());
    seq->tokens = std::move(prompt);
    seq->max_tokens_total = target_len;
    seq->priority = priority;
    owned_.push_back(std::move(seq));
    return owned_.back().get();
  }

  AddResult add(Sequence* seq) {
    const AddResult r = scheduler.add(seq);
    if (r == AddResult::Ok) live_.insert(seq);
    return r;
  }

  Sequence* add_new(std::vector<int32_t> prompt, int32_t target_len, int32_t priority = 0) {
    Sequence* seq = make(std::move(prompt), target_len, priority);
    EXPECT_EQ(add(seq), AddResult::Ok);
    return seq;
  }

  // schedule() plus every per-step check of the output.
  SchedulerOutput schedule_checked() {
    SchedulerOutput out = scheduler.schedule();
    ++step_;
    EXPECT_LE(out.n_batched_tokens, scheduler_config.max_num_batched_tokens);
    int32_t sum = 0;
    std::set<const Sequence*> seen;
    for (const ScheduledSequence& s : out.scheduled) {
      const Sequence& q = *s.seq;
      sum += s.n_new_tokens;
      EXPECT_TRUE(seen.insert(s.seq).second) << "sequence scheduled twice in one step";
      EXPECT_EQ(q.status, SequenceStatus::Running);
      EXPECT_GT(s.n_new_tokens, 0);
      EXPECT_LE(q.n_computed_tokens + s.n_new_tokens, int32_t(q.tokens.size()));
      EXPECT_EQ(s.samples, q.n_computed_tokens + s.n_new_tokens == int32_t(q.tokens.size()));
      EXPECT_GE(int32_t(q.block_table.size()),
                blocks.blocks_for_tokens(q.n_computed_tokens + s.n_new_tokens));
      first_scheduled_step.try_emplace(s.seq, step_);
    }
    EXPECT_EQ(sum, out.n_batched_tokens);
    for (const Sequence* p : out.preempted) {
      EXPECT_EQ(p->status, SequenceStatus::Waiting);
      EXPECT_TRUE(p->block_table.empty());
      EXPECT_EQ(p->n_computed_tokens, 0);
      EXPECT_EQ(seen.count(p), 0u) << "a preempted sequence was scheduled";
    }
    return out;
  }

  // The fake forward: copy-on-write copies, K/V writes, then every attended position is verified.
  void forward(const SchedulerOutput& out) {
    const int32_t bs = blocks.block_size();
    for (const auto& [src, dst] : out.block_copies)
      for (int32_t i = 0; i < bs; ++i) kv_[size_t(dst * bs + i)] = kv_[size_t(src * bs + i)];
    // What a sequence counts as computed must be in the cache before this step writes anything.
    for (const ScheduledSequence& s : out.scheduled) expect_kv(*s.seq, s.seq->n_computed_tokens, "before");
    for (const ScheduledSequence& s : out.scheduled) {
      const std::vector<uint64_t> fp = fingerprints(s.seq->tokens);
      for (int32_t p = s.seq->n_computed_tokens; p < s.seq->n_computed_tokens + s.n_new_tokens; ++p)
        kv_[slot(*s.seq, p)] = fp[size_t(p)];
    }
    for (const ScheduledSequence& s : out.scheduled)
      expect_kv(*s.seq, s.seq->n_computed_tokens + s.n_new_tokens, "after");
  }

  // Positions [0, n_positions) of seq hold the fingerprints of seq's own prefixes.
  void expect_kv(const Sequence& seq, int32_t n_positions, const char* when) {
    const std::vector<uint64_t> fp = fingerprints(seq.tokens);
    for (int32_t p = 0; p < n_positions; ++p) {
      if (kv_[slot(seq, p)] != fp[size_t(p)]) {
        ADD_FAILURE() << "seq " << seq.seq_id << " has wrong K/V at position " << p << " " << when
                      << " the forward of step " << step_;
        ++kv_mismatches;
        return;
      }
    }
  }

  // After on_step_done: each sampling sequence gets a token and finishes at its target length.
  void sample(const SchedulerOutput& out) {
    for (const ScheduledSequence& s : out.scheduled) {
      if (!s.samples || s.seq->status != SequenceStatus::Running) continue;
      s.seq->tokens.push_back(next_token());
      if (int32_t(s.seq->tokens.size()) >= s.seq->max_tokens_total) finish(s.seq);
    }
  }

  SchedulerOutput step() {
    SchedulerOutput out = schedule_checked();
    forward(out);
    scheduler.on_step_done(out);
    sample(out);
    check_invariants();
    return out;
  }

  // Steps until nothing is left; returns the number of steps (fails past max_steps).
  int64_t run_until_idle(int64_t max_steps) {
    int64_t n = 0;
    while (scheduler.has_work()) {
      step();
      if (++n > max_steps) {
        ADD_FAILURE() << "no progress after " << max_steps << " steps";
        break;
      }
    }
    return n;
  }

  void finish(Sequence* seq) {
    scheduler.finish(seq);
    live_.erase(seq);
    finished.push_back(seq);
  }

  // Call between on_step_done and sample(); the caller gives the child its own next token.
  Sequence* fork(Sequence* parent) {
    Sequence* child = make({}, 0);
    scheduler.fork(parent, child);
    live_.insert(child);
    return child;
  }

  // Queues and pools agree with the sequences; each block's ref_count == tables holding it.
  void check_invariants() {
    EXPECT_NO_THROW(blocks.check_invariants());
    std::vector<int32_t> holders(size_t(blocks.n_blocks()), 0);
    size_t n_running = 0, n_waiting = 0;
    for (const Sequence* q : live_) {
      if (q->status == SequenceStatus::Running) {
        ++n_running;
        EXPECT_GE(int32_t(q->block_table.size()), blocks.blocks_for_tokens(q->n_computed_tokens));
      } else {
        EXPECT_EQ(q->status, SequenceStatus::Waiting);
        EXPECT_TRUE(q->block_table.empty());
        ++n_waiting;
      }
      for (int32_t b : q->block_table) ++holders.at(size_t(b));
    }
    EXPECT_EQ(scheduler.n_running(), n_running);
    EXPECT_EQ(scheduler.n_waiting(), n_waiting);
    EXPECT_EQ(blocks.n_live_sequences(), n_running);
    for (int32_t b = 0; b < blocks.n_blocks(); ++b)
      EXPECT_EQ(blocks.ref_count(b), holders[size_t(b)]) << "block " << b;
    EXPECT_EQ(blocks.n_free_blocks() + blocks.n_evictable_blocks() + blocks.n_used_blocks(),
              blocks.n_blocks());
  }

  const std::set<Sequence*>& live() const { return live_; }
  int64_t step_index() const { return step_; }
  int32_t next_token() {
    token_state_ = token_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return int32_t((token_state_ >> 33) % 50);
  }

  SchedulerConfig scheduler_config;
  BlockManager blocks;
  Scheduler scheduler;
  std::unordered_map<const Sequence*, int64_t> first_scheduled_step;
  std::vector<Sequence*> finished;
  int64_t kv_mismatches = 0;

 private:
  size_t slot(const Sequence& q, int32_t p) const {
    const int32_t bs = blocks.block_size();
    return size_t(q.block_table.at(size_t(p / bs)) * bs + p % bs);
  }
  static std::vector<uint64_t> fingerprints(const std::vector<int32_t>& tokens) {
    std::vector<uint64_t> fp(tokens.size());
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < tokens.size(); ++i) {
      h = (h ^ uint64_t(uint32_t(tokens[i]))) * 0x100000001b3ULL;
      h ^= h >> 29;
      fp[i] = h | 1;  // never 0, the value of a slot never written
    }
    return fp;
  }

  std::deque<std::unique_ptr<Sequence>> owned_;
  std::set<Sequence*> live_;
  std::vector<uint64_t> kv_;
  int64_t next_seq_id_ = 1;
  int64_t step_ = 0;
  uint64_t token_state_ = 12345;
};

inline std::vector<int32_t> tokens_from(int32_t first, int32_t n) {
  std::vector<int32_t> t;
  for (int32_t i = 0; i < n; ++i) t.push_back(first + i);
  return t;
}

}  // namespace tokenmill::sched_test
