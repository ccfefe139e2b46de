// Randomized scheduler runs: random configs, arrivals with shared prefixes, aborts and forks.
// Every step is checked by the harness (budget, samples flag, K/V fingerprints, pools, ref counts);
// at the end every sequence has finished and no block is held.
#include <gtest/gtest.h>

#include <iterator>
#include <random>

#include "engine/scheduler.h"
#include "scheduler_harness.h"

namespace tokenmill {
namespace {

using sched_test::FakeEngine;

struct StressTotals {
  uint64_t preemptions = 0;
  uint64_t prefix_hit_tokens = 0;
  uint64_t forks = 0;
  uint64_t aborts = 0;
  uint64_t finished = 0;
};

void run_seed(uint64_t seed, StressTotals& totals) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };

  const int32_t block_size = std::vector<int32_t>{1, 2, 4, 8}[size_t(uniform(0, 3))];
  const int32_t n_blocks = uniform(4, 40);
  const int32_t capacity = n_blocks * block_size;
  SchedulerConfig cfg{uniform(1, 64), uniform(1, 8), uniform(2, 48), chance(0.5)};
  const bool caching = chance(0.7);
  FakeEngine e(cfg, n_blocks, block_size, caching);
  SCOPED_TRACE("seed " + std::to_string(seed) + ": bs " + std::to_string(block_size) + ", blocks " +
               std::to_string(n_blocks) + ", budget " + std::to_string(cfg.max_num_batched_tokens) +
               ", seqs " + std::to_string(cfg.max_num_seqs) + ", priority " + std::to_string(cfg.priority) +
               ", caching " + std::to_string(caching));

  std::vector<std::vector<int32_t>> prefixes(3);
  for (auto& p : prefixes) {
    p.resize(size_t(uniform(0, 24)));
    for (auto& t : p) t = uniform(0, 49);
  }

  const int arrival_steps = 150;
  int64_t step = 0;
  while (step < arrival_steps || e.scheduler.has_work()) {
    if (step < arrival_steps && chance(0.5)) {
      for (int k = uniform(0, 2); k > 0; --k) {
        std::vector<int32_t> prompt = prefixes[size_t(uniform(0, 2))];
        for (int n = uniform(1, 12); n > 0; --n) prompt.push_back(uniform(0, 49));
        const int32_t target = int32_t(prompt.size()) + uniform(1, 20);
        const size_t n_waiting = e.scheduler.n_waiting();
        const AddResult r = e.add(e.make(prompt, target, uniform(0, 3)));
        if (target > capacity) {
          EXPECT_EQ(r, AddResult::TooLarge);
        } else if (n_waiting >= size_t(cfg.max_queued)) {
          EXPECT_EQ(r, AddResult::QueueFull);
        } else {
          EXPECT_EQ(r, AddResult::Ok);
        }
      }
    }
    if (!e.live().empty() && chance(0.04)) {  // abort a random waiting or running sequence
      auto it = e.live().begin();
      std::advance(it, uniform(0, int(e.live().size()) - 1));
      e.finish(*it);
      ++totals.aborts;
    }

    const SchedulerOutput out = e.schedule_checked();
    e.forward(out);
    e.scheduler.on_step_done(out);
    for (const ScheduledSequence& s : out.scheduled) {  // n > 1: fork after the step, then sample
      if (!s.samples || s.seq->status != SequenceStatus::Running || !chance(0.08)) continue;
      Sequence* child = e.fork(s.seq);
      child->tokens.push_back(e.next_token());
      if (int32_t(child->tokens.size()) >= child->max_tokens_total) e.finish(child);
      ++totals.forks;
    }
    e.sample(out);
    e.check_invariants();
    if (::testing::Test::HasFailure()) return;
    if (++step > 50000) {
      ADD_FAILURE() << "no progress";
      return;
    }
  }
  EXPECT_TRUE(e.live().empty());
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
  EXPECT_EQ(e.blocks.n_live_sequences(), 0u);
  EXPECT_EQ(e.kv_mismatches, 0);
  for (const Sequence* s : e.finished) EXPECT_TRUE(s->block_table.empty());
  totals.preemptions += e.scheduler.n_preemptions_total();
  totals.prefix_hit_tokens += e.blocks.prefix_hit_tokens();
  totals.finished += e.finished.size();
}

TEST(SchedulerStress, RandomWorkloadsFinishWithoutLeaksOrWrongKv) {
  StressTotals totals;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    run_seed(seed, totals);
    if (HasFailure()) break;
  }
  // The workloads must actually exercise the hard paths, or the test proves little.
  EXPECT_GT(totals.preemptions, 100u);
  EXPECT_GT(totals.prefix_hit_tokens, 1000u);
  EXPECT_GT(totals.forks, 100u);
  EXPECT_GT(totals.aborts, 100u);
  EXPECT_GT(totals.finished, 2000u);
  std::cout << "stress totals: preemptions " << totals.preemptions << ", prefix hit tokens "
            << totals.prefix_hit_tokens << ", forks " << totals.forks << ", aborts " << totals.aborts
            << ", finished " << totals.finished << "\n";
}

}  // namespace
}  // namespace tokenmill
