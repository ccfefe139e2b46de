// Scheduler rules, one at a time, through a model-free engine loop (scheduler_harness.h).
#include <gtest/gtest.h>

#include "core/error.h"
#include "engine/scheduler.h"
#include "scheduler_harness.h"

namespace tokenmill {
namespace {

using sched_test::FakeEngine;
using sched_test::tokens_from;

SchedulerConfig config(int32_t budget, int32_t max_seqs, int32_t max_queued = 256, bool priority = false) {
  return SchedulerConfig{budget, max_seqs, max_queued, priority};
}

TEST(Scheduler, LongPromptRunsInChunksBesideDecodes) {
  FakeEngine e(config(16, 8), 64, 4, false);
  Sequence* a = e.add_new(tokens_from(0, 4), 30);
  SchedulerOutput out = e.step();
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(out.scheduled[0].n_new_tokens, 4);
  EXPECT_TRUE(out.scheduled[0].samples);

  Sequence* b = e.add_new(tokens_from(100, 40), 45);
  const int32_t expected_chunks[] = {15, 15, 10};
  for (int32_t chunk : expected_chunks) {
    out = e.step();
    ASSERT_EQ(out.scheduled.size(), 2u);
    EXPECT_EQ(out.scheduled[0].seq, a);  // the running decode goes first
    EXPECT_EQ(out.scheduled[0].n_new_tokens, 1);
    EXPECT_TRUE(out.scheduled[0].samples);
    EXPECT_EQ(out.scheduled[1].seq, b);
    EXPECT_EQ(out.scheduled[1].n_new_tokens, chunk);
    EXPECT_EQ(out.scheduled[1].samples, chunk == 10);
    EXPECT_EQ(out.n_batched_tokens, 1 + chunk);
  }
  EXPECT_EQ(b->n_computed_tokens, 40);
  EXPECT_EQ(b->tokens.size(), 41u);
  e.run_until_idle(200);
  EXPECT_EQ(e.finished.size(), 2u);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
  EXPECT_EQ(e.kv_mismatches, 0);
}

TEST(Scheduler, StaticBatchesAdmitOnlyBetweenBatches) {
  SchedulerConfig c = config(64, 8);
  c.static_batches = true;
  FakeEngine e(c, 64, 4, false);
  Sequence* a = e.add_new(tokens_from(0, 4), 4 + 6);   // 6 tokens to generate
  Sequence* b = e.add_new(tokens_from(50, 4), 4 + 2);  // 2 tokens to generate
  SchedulerOutput out = e.step();
  ASSERT_EQ(out.scheduled.size(), 2u);  // both form the batch
  e.add_new(tokens_from(100, 4), 8);    // arrives while the batch decodes
  while (a->status != SequenceStatus::Finished) {
    out = e.step();
    for (const ScheduledSequence& s : out.scheduled) EXPECT_TRUE(s.seq == a || s.seq == b);
    EXPECT_EQ(e.scheduler.n_waiting(), 1u);
  }
  EXPECT_EQ(b->status, SequenceStatus::Finished);
  out = e.step();  // the batch is done: the waiting request starts the next one
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(e.scheduler.n_waiting(), 0u);
  e.run_until_idle(100);
  EXPECT_EQ(e.finished.size(), 3u);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
}

TEST(Scheduler, MaxNumSeqsBoundsRunning) {
  FakeEngine e(config(64, 2), 64, 4, false);
  for (int i = 0; i < 4; ++i) e.add_new(tokens_from(10 * i, 3), 6);
  const SchedulerOutput out = e.step();
  EXPECT_EQ(out.scheduled.size(), 2u);
  EXPECT_EQ(e.scheduler.n_running(), 2u);
  EXPECT_EQ(e.scheduler.n_waiting(), 2u);
  while (e.scheduler.has_work()) {
    e.step();
    EXPECT_LE(e.scheduler.n_running(), 2u);
  }
  EXPECT_EQ(e.finished.size(), 4u);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
}

class SchedulerPreemption : public ::testing::TestWithParam<bool> {};

TEST_P(SchedulerPreemption, OutOfBlocksPreemptsThenEverythingFinishes) {
  FakeEngine e(config(64, 8), 8, 4, GetParam());  // 32 token slots for 4 x 16 tokens
  for (int i = 0; i < 4; ++i) e.add_new(tokens_from(100 * i, 6), 16);
  e.run_until_idle(2000);
  EXPECT_GT(e.scheduler.n_preemptions_total(), 0u);
  ASSERT_EQ(e.finished.size(), 4u);
  for (const Sequence* s : e.finished) {
    EXPECT_EQ(s->tokens.size(), 16u);
    EXPECT_EQ(s->status, SequenceStatus::Finished);
    EXPECT_TRUE(s->block_table.empty());
  }
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
  EXPECT_EQ(e.blocks.n_live_sequences(), 0u);
  EXPECT_EQ(e.kv_mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(PrefixCaching, SchedulerPreemption, ::testing::Bool());

TEST(Scheduler, PreemptedSequenceGoesBackToTheFrontOfWaiting) {
  FakeEngine e(config(64, 2), 4, 2, false);
  Sequence* a = e.add_new(tokens_from(0, 3), 8);
  Sequence* b = e.add_new(tokens_from(10, 3), 8);
  Sequence* c = e.add_new(tokens_from(20, 3), 4);
  e.step();                              // a and b prefill: 2 blocks each, the cache is full
  e.step();                              // decode position 3: still inside the second block
  const SchedulerOutput out = e.step();  // position 4 needs a third block for a: b (latest) is preempted
  ASSERT_EQ(out.preempted.size(), 1u);
  EXPECT_EQ(out.preempted[0], b);
  EXPECT_EQ(b->n_preemptions, 1);
  EXPECT_EQ(b->n_computed_tokens, 0);
  ASSERT_EQ(e.scheduler.waiting().size(), 2u);
  EXPECT_EQ(e.scheduler.waiting().front(), b);
  EXPECT_EQ(e.scheduler.waiting().back(), c);
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(out.scheduled[0].seq, a);
  e.run_until_idle(500);
  EXPECT_EQ(e.finished.size(), 3u);
  EXPECT_EQ(b->tokens.size(), 8u);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
  EXPECT_EQ(e.kv_mismatches, 0);
}

TEST(Scheduler, PriorityOrdersAdmission) {
  FakeEngine e(config(64, 1, 256, true), 32, 4, false);
  Sequence* low = e.add_new(tokens_from(0, 3), 5, /*priority=*/5);
  Sequence* mid = e.add_new(tokens_from(10, 3), 5, 1);
  Sequence* high = e.add_new(tokens_from(20, 3), 5, 0);
  Sequence* high2 = e.add_new(tokens_from(30, 3), 5, 0);
  std::vector<const Sequence*> order;
  while (e.scheduler.has_work()) {
    const SchedulerOutput out = e.step();
    for (const auto& s : out.scheduled)
      if (order.empty() || order.back() != s.seq) order.push_back(s.seq);
  }
  const std::vector<const Sequence*> expected = {high, high2, mid, low};
  EXPECT_EQ(order, expected);
}

TEST(Scheduler, PriorityPreemptsTheLeastUrgentNotTheLatest) {
  FakeEngine e(config(64, 2, 256, true), 4, 2, false);
  Sequence* low = e.add_new(tokens_from(0, 3), 8, 5);  // arrives first
  Sequence* high = e.add_new(tokens_from(10, 3), 8, 0);
  e.step();
  e.step();
  const SchedulerOutput out = e.step();
  ASSERT_EQ(out.preempted.size(), 1u);
  EXPECT_EQ(out.preempted[0], low);
  EXPECT_EQ(out.scheduled.at(0).seq, high);
  e.run_until_idle(500);
  EXPECT_EQ(e.finished.size(), 2u);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
}

TEST(Scheduler, FcfsHeadIsAdmittedWhileSmallRequestsKeepArriving) {
  FakeEngine e(config(64, 16), 16, 4, false);  // 64 slots; the big request needs 48
  Sequence* big = nullptr;
  std::vector<Sequence*> after_big;
  for (int step = 0; step < 80; ++step) {
    Sequence* small = e.add_new(tokens_from(1000 + 10 * step, 8), 16);
    if (big) after_big.push_back(small);
    if (step == 3) big = e.add_new(tokens_from(5000, 40), 48);
    e.step();
  }
  e.run_until_idle(5000);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->status, SequenceStatus::Finished);
  EXPECT_EQ(big->tokens.size(), 48u);
  ASSERT_TRUE(e.first_scheduled_step.count(big));
  const int64_t big_start = e.first_scheduled_step.at(big);
  EXPECT_LT(big_start, 40);  // admitted once the requests ahead of it drained, not "eventually"
  for (const Sequence* s : after_big) {
    ASSERT_TRUE(e.first_scheduled_step.count(s));
    EXPECT_GE(e.first_scheduled_step.at(s), big_start) << "seq " << s->seq_id << " overtook the head";
  }
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
  EXPECT_EQ(e.kv_mismatches, 0);
}

TEST(Scheduler, QueueBoundRejectsWithQueueFull) {
  FakeEngine e(config(64, 4, /*max_queued=*/2), 32, 4, false);
  e.add_new(tokens_from(0, 3), 5);
  e.add_new(tokens_from(10, 3), 5);
  Sequence* third = e.make(tokens_from(20, 3), 5);
  EXPECT_EQ(e.add(third), AddResult::QueueFull);
  EXPECT_EQ(e.scheduler.n_waiting(), 2u);
  e.step();  // both admitted: room in the queue again
  EXPECT_EQ(e.add(third), AddResult::Ok);
  e.run_until_idle(100);
  EXPECT_EQ(e.finished.size(), 3u);
}

TEST(Scheduler, TooLargeIsRejectedUpFrontAndWhatFitsAloneFinishes) {
  FakeEngine e(config(4, 4), 4, 4, true);  // 16 token slots
  EXPECT_EQ(e.add(e.make(tokens_from(0, 5), 17)), AddResult::TooLarge);
  EXPECT_EQ(e.add(e.make(tokens_from(0, 17), 0)), AddResult::TooLarge);
  EXPECT_EQ(e.scheduler.n_waiting(), 0u);
  Sequence* fits = e.add_new(tokens_from(0, 5), 16);
  e.run_until_idle(100);
  EXPECT_EQ(fits->tokens.size(), 16u);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
}

TEST(Scheduler, ForkSharesBlocksThenCopiesOnWrite) {
  FakeEngine e(config(64, 8), 16, 4, true);
  Sequence* parent = e.add_new(tokens_from(0, 6), 12);
  SchedulerOutput out = e.schedule_checked();
  e.forward(out);
  e.scheduler.on_step_done(out);
  Sequence* child = e.fork(parent);
  e.sample(out);
  child->tokens.push_back(999);
  EXPECT_EQ(child->block_table, parent->block_table);
  EXPECT_EQ(child->n_computed_tokens, 6);
  for (int32_t b : parent->block_table) EXPECT_EQ(e.blocks.ref_count(b), 2);
  e.check_invariants();

  out = e.step();
  EXPECT_EQ(out.scheduled.size(), 2u);
  ASSERT_EQ(out.block_copies.size(), 1u);  // the partial block both write into
  EXPECT_EQ(parent->block_table[0], child->block_table[0]);
  EXPECT_NE(parent->block_table[1], child->block_table[1]);
  e.run_until_idle(100);
  EXPECT_EQ(e.finished.size(), 2u);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
  EXPECT_EQ(e.kv_mismatches, 0);
}

TEST(Scheduler, PrefixHitsSkipComputedBlocks) {
  for (bool caching : {false, true}) {
    FakeEngine e(config(64, 8), 32, 4, caching);
    e.add_new(tokens_from(0, 20), 21);
    e.run_until_idle(10);
    Sequence* again = e.add_new(tokens_from(0, 20), 21);
    const SchedulerOutput out = e.step();
    ASSERT_EQ(out.scheduled.size(), 1u);
    EXPECT_EQ(out.scheduled[0].n_new_tokens, caching ? 4 : 20);
    EXPECT_EQ(again->n_cached_tokens, caching ? 16 : 0);
    EXPECT_EQ(e.kv_mismatches, 0);
  }
}

TEST(Scheduler, FinishFromWaitingAndMisuseThrow) {
  FakeEngine e(config(64, 1), 32, 4, false);
  Sequence* a = e.add_new(tokens_from(0, 3), 10);
  Sequence* b = e.add_new(tokens_from(10, 3), 10);
  e.step();
  EXPECT_EQ(b->status, SequenceStatus::Waiting);
  e.finish(b);  // abort before it ever ran
  EXPECT_EQ(b->status, SequenceStatus::Finished);
  EXPECT_THROW(e.scheduler.finish(b), Error);
  EXPECT_THROW(e.scheduler.add(b), Error);
  EXPECT_THROW(e.scheduler.add(a), Error);  // running
  EXPECT_THROW(e.scheduler.add(e.make({}, 4)), Error);
  Sequence* c = e.make(tokens_from(20, 3), 10);
  EXPECT_THROW(e.scheduler.fork(c, e.make({}, 0)), Error);  // parent not running
  e.finish(a);                                              // abort while running: blocks come back
  EXPECT_THROW(e.scheduler.finish(a), Error);
  EXPECT_EQ(e.blocks.n_used_blocks(), 0);
  EXPECT_FALSE(e.scheduler.has_work());
  e.check_invariants();
}

TEST(Scheduler, BadConfigThrows) {
  BlockManager bm(4, 4, false);
  EXPECT_THROW(Scheduler(config(0, 4), bm), Error);
  EXPECT_THROW(Scheduler(config(4, 0), bm), Error);
}

}  // namespace
}  // namespace tokenmill
