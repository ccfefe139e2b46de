#include "engine/scheduler.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace tokenmill {

Scheduler::Scheduler(const SchedulerConfig& config, BlockManager& block_manager)
    : config_(config), blocks_(block_manager) {
  check(config.max_num_batched_tokens > 0, "scheduler: max_num_batched_tokens must be > 0");
  check(config.max_num_seqs > 0, "scheduler: max_num_seqs must be > 0");
  check(config.max_queued >= 0, "scheduler: max_queued must be >= 0");
}

bool Scheduler::more_urgent(const Sequence* a, const Sequence* b) const {
  if (config_.priority && a->priority != b->priority) return a->priority < b->priority;
  if (a->arrival_order != b->arrival_order) return a->arrival_order < b->arrival_order;
  return a->seq_id < b->seq_id;
}

void Scheduler::insert_running(Sequence* seq) {
  auto pos = std::upper_bound(running_.begin(), running_.end(), seq,
                              [this](const Sequence* a, const Sequence* b) { return more_urgent(a, b); });
  running_.insert(pos, seq);
}

void Scheduler::insert_waiting_by_key(Sequence* seq) {
  auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), seq,
                              [this](const Sequence* a, const Sequence* b) { return more_urgent(a, b); });
  waiting_.insert(pos, seq);
}

AddResult Scheduler::add(Sequence* seq) {
  check(seq != nullptr, "scheduler: add(nullptr)");
  check(!seq->tokens.empty(), "scheduler: sequence " + std::to_string(seq->seq_id) + " has no tokens");
  check(seq->status == SequenceStatus::Waiting && seq->block_table.empty() &&
            !blocks_.holds_blocks(seq->seq_id),
        "scheduler: sequence " + std::to_string(seq->seq_id) + " is not a fresh sequence");
  check(std::find(waiting_.begin(), waiting_.end(), seq) == waiting_.end(),
        "scheduler: sequence " + std::to_string(seq->seq_id) + " added twice");
  const int64_t capacity_tokens = int64_t(blocks_.n_blocks()) * blocks_.block_size();
  const int64_t needed_tokens = std::max<int64_t>(int64_t(seq->tokens.size()), seq->max_tokens_total);
  if (needed_tokens > capacity_tokens) return AddResult::TooLarge;
  if (waiting_.size() >= size_t(config_.max_queued)) return AddResult::QueueFull;
  seq->arrival_order = next_arrival_++;
  seq->n_computed_tokens = 0;
  seq->n_cached_tokens = 0;
  if (config_.priority) {
    insert_waiting_by_key(seq);
  } else {
    waiting_.push_back(seq);
  }
  return AddResult::Ok;
}

void Scheduler::preempt(Sequence* victim, SchedulerOutput& out) {
  auto it = std::find(running_.begin(), running_.end(), victim);
  check(it != running_.end(), "scheduler: preempting a sequence that is not running");
  running_.erase(it);
  // Recompute: the K/V are dropped; full blocks already registered may still be found again in the
  // prefix cache when the sequence is readmitted.
  blocks_.free(victim->seq_id, victim->block_table);
  victim->n_computed_tokens = 0;
  victim->status = SequenceStatus::Waiting;
  ++victim->n_preemptions;
  ++n_preemptions_total_;
  if (config_.priority) {
    insert_waiting_by_key(victim);
  } else {
    waiting_.push_front(victim);
  }
  out.preempted.push_back(victim);
}

void Scheduler::schedule_running(SchedulerOutput& out, int32_t& budget) {
  size_t i = 0;
  while (i < running_.size() && budget > 0) {
    Sequence* seq = running_[i];
    const int32_t n_new = std::min(seq->n_remaining(), budget);
    if (n_new <= 0) {  // nothing to run until the caller appends a token or finishes it
      ++i;
      continue;
    }
    bool scheduled = false;
    for (;;) {
      if (blocks_.can_append(seq->block_table, seq->n_computed_tokens, n_new)) {
        blocks_.append_slots(seq->seq_id, seq->block_table, seq->n_computed_tokens, n_new, out.block_copies);
        out.scheduled.push_back({seq, n_new, seq->n_computed_tokens + n_new == int32_t(seq->tokens.size())});
        budget -= n_new;
        scheduled = true;
        break;
      }
      // running_ is ordered by urgency and sequences after i are not scheduled yet, so the least
      // urgent one can give its blocks back without undoing anything; seq itself goes last.
      Sequence* victim = running_.back();
      preempt(victim, out);
      if (victim == seq) break;
    }
    if (scheduled) ++i;
  }
}

void Scheduler::admit_waiting(SchedulerOutput& out, int32_t& budget) {
  while (!waiting_.empty() && budget > 0 && running_.size() < size_t(config_.max_num_seqs)) {
    Sequence* seq = waiting_.front();
    const PrefixMatch match = blocks_.match_prefix(seq->tokens);
    const int32_t n_new = std::min(int32_t(seq->tokens.size()) - match.n_cached_tokens, budget);
    // Head-of-line rule: when the head does not fit, nobody behind it is admitted either, so a
    // large request cannot be starved by a stream of small ones.
    if (!blocks_.can_allocate(match, n_new)) break;
    waiting_.pop_front();
    seq->n_computed_tokens = blocks_.allocate(seq->seq_id, match, n_new, seq->block_table);
    seq->n_cached_tokens = std::min(seq->n_computed_tokens, seq->n_prompt_tokens);
    seq->status = SequenceStatus::Running;
    insert_running(seq);
    out.scheduled.push_back({seq, n_new, seq->n_computed_tokens + n_new == int32_t(seq->tokens.size())});
    budget -= n_new;
  }
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  int32_t budget = config_.max_num_batched_tokens;
  schedule_running(out, budget);
  // Memory is short when something had to be preempted: admitting now would only thrash.
  bool batch_open = true;
  if (config_.static_batches)
    for (const Sequence* s : running_) batch_open = batch_open && s->n_computed_tokens < s->n_prompt_tokens;
  if (out.preempted.empty() && batch_open) admit_waiting(out, budget);
  out.n_batched_tokens = config_.max_num_batched_tokens - budget;
  return out;
}

void Scheduler::on_step_done(const SchedulerOutput& out) {
  for (const ScheduledSequence& s : out.scheduled) {
    Sequence* seq = s.seq;
    if (seq->status != SequenceStatus::Running) continue;  // finished since schedule()
    check(seq->n_computed_tokens + s.n_new_tokens <= int32_t(seq->tokens.size()),
          "scheduler: on_step_done for a sequence whose tokens shrank");
    seq->n_computed_tokens += s.n_new_tokens;
    blocks_.commit(seq->seq_id, seq->tokens, seq->block_table, seq->n_computed_tokens);
  }
}

void Scheduler::finish(Sequence* seq) {
  check(seq != nullptr, "scheduler: finish(nullptr)");
  check(seq->status != SequenceStatus::Finished,
        "scheduler: sequence " + std::to_string(seq->seq_id) + " finished twice");
  if (seq->status == SequenceStatus::Running) {
    auto it = std::find(running_.begin(), running_.end(), seq);
    check(it != running_.end(),
          "scheduler: sequence " + std::to_string(seq->seq_id) + " is not running here");
    running_.erase(it);
    blocks_.free(seq->seq_id, seq->block_table);
  } else {
    auto it = std::find(waiting_.begin(), waiting_.end(), seq);
    check(it != waiting_.end(),
          "scheduler: sequence " + std::to_string(seq->seq_id) + " is not waiting here");
    waiting_.erase(it);
  }
  seq->status = SequenceStatus::Finished;
}

void Scheduler::fork(Sequence* parent, Sequence* child) {
  check(parent != nullptr && child != nullptr && parent != child,
        "scheduler: fork needs two distinct sequences");
  check(parent->status == SequenceStatus::Running &&
            std::find(running_.begin(), running_.end(), parent) != running_.end(),
        "scheduler: fork of sequence " + std::to_string(parent->seq_id) + " which is not running");
  check(child->seq_id != parent->seq_id && child->block_table.empty() &&
            !blocks_.holds_blocks(child->seq_id) &&
            std::find(running_.begin(), running_.end(), child) == running_.end() &&
            std::find(waiting_.begin(), waiting_.end(), child) == waiting_.end(),
        "scheduler: fork child " + std::to_string(child->seq_id) + " is not a fresh sequence");
  child->tokens = parent->tokens;
  child->n_prompt_tokens = parent->n_prompt_tokens;
  child->n_computed_tokens = parent->n_computed_tokens;
  child->n_cached_tokens = parent->n_cached_tokens;
  child->priority = parent->priority;
  child->arrival_order = parent->arrival_order;
  child->max_tokens_total = parent->max_tokens_total;
  child->n_preemptions = 0;
  blocks_.fork(parent->seq_id, parent->block_table, child->seq_id, child->block_table);
  child->status = SequenceStatus::Running;
  insert_running(child);
}

}  // namespace tokenmill
