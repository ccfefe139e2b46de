#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/ops.h"

namespace tokenmill {

Sampler::Sampler(const SamplingParams& params, uint64_t default_seed)
    : params_(params), rng_(params.seed.value_or(default_seed)) {}

bool Sampler::more_likely(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> prompt_ids,
                        std::span<const int32_t> output_ids) {
  check(!logits.empty(), "sampling needs at least one logit");
  const auto n_vocab = static_cast<int32_t>(logits.size());
  if (n_vocab != validated_n_vocab_) {
    params_.validate(n_vocab);
    validated_n_vocab_ = n_vocab;
  }

  apply_logit_bias(logits, params_.logit_bias);
  if (params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
      params_.frequency_penalty != 0.0f) {
    apply_penalties(logits, prompt_ids, output_ids, params_.repetition_penalty,
                    params_.presence_penalty, params_.frequency_penalty, penalty_scratch_);
  }

  // Index of the largest logit, ties to the lowest id; NaN never wins. -1 if none is > -inf.
  const auto best = static_cast<int32_t>(kernels::argmax(logits.data(), logits.size()));
  check(best >= 0, "no token can be sampled: every logit is -inf or NaN (all banned?)");
  check(std::isfinite(logits[best]),
        "logits must be finite or -inf, got +inf at token " + std::to_string(best));
  if (params_.is_greedy()) return best;

  if (params_.top_k > 0 && params_.top_k < n_vocab) return sample_top_k(logits, logits[best]);
  return sample_full(logits, logits[best]);
}

int32_t Sampler::sample_top_k(std::span<const float> logits, float max_logit) {
  // A heap whose front is the least likely of the best k seen so far: O(n_vocab) comparisons
  // against the front, O(log k) only for tokens that enter. -inf and NaN never enter.
  const auto k = static_cast<size_t>(params_.top_k);
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) continue;
    const Candidate c{static_cast<int32_t>(i), logits[i], 0.0f};
    if (candidates_.size() < k) {
      candidates_.push_back(c);
      std::push_heap(candidates_.begin(), candidates_.end(), more_likely);
    } else if (more_likely(c, candidates_.front())) {
      std::pop_heap(candidates_.begin(), candidates_.end(), more_likely);
      candidates_.back() = c;
      std::push_heap(candidates_.begin(), candidates_.end(), more_likely);
    }
  }
  std::sort(candidates_.begin(), candidates_.end(), more_likely);

  // Temperature and softmax (unnormalized). Subtracting the max before dividing keeps every
  // exponent <= 0: a temperature near 0 underflows the others to 0 instead of overflowing.
  double total_weight = 0.0;
  for (Candidate& c : candidates_) {
    c.weight = std::exp((c.logit - max_logit) / params_.temperature);
    total_weight += c.weight;
  }
  if (params_.top_p < 1.0f) {
    const double target_weight = static_cast<double>(params_.top_p) * total_weight;
    double mass = 0.0;
    size_t kept = 0;
    while (kept < candidates_.size() && (kept == 0 || mass < target_weight)) {
      mass += candidates_[kept++].weight;
    }
    candidates_.resize(kept);
  }
  // Weights are relative to the most likely token (weight 1), so min-p's threshold is min_p.
  return draw(candidates_, params_.min_p);
}

int32_t Sampler::sample_full(std::span<const float> logits, float max_logit) {
  weights_.resize(logits.size());
  // -inf (banned) and NaN get weight 0; +inf was rejected by the caller.
  double total_weight = kernels::sampling_weights(weights_.data(), logits.data(), logits.size(),
                                                  max_logit, params_.temperature);
  if (params_.top_p < 1.0f || params_.min_p > 0.0f) {
    const Candidate* boundary = nullptr;
    if (params_.top_p < 1.0f) {
      boundary = top_p_boundary(logits, total_weight);
    }
    // Zero the weight of every token that top-p (less likely than the boundary) or min-p drops.
    const float min_weight = params_.min_p;
    total_weight = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      const Candidate token{static_cast<int32_t>(i), logits[i], weights_[i]};
      if (weights_[i] < min_weight || (boundary != nullptr && more_likely(*boundary, token))) {
        weights_[i] = 0.0f;
      }
      total_weight += weights_[i];
    }
  }

  // Draw in id order; tokens of weight 0 are never drawn.
  const double target = rng_.uniform01() * total_weight;
  double cumulative = 0.0;
  int32_t last_kept = -1;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (weights_[i] == 0.0f) continue;
    cumulative += weights_[i];
    last_kept = static_cast<int32_t>(i);
    if (cumulative > target) return last_kept;
  }
  return last_kept;  // only through rounding at the very top of the range
}

const Sampler::Candidate* Sampler::top_p_boundary(std::span<const float> logits,
                                                  double total_weight) {
  const double target_weight = static_cast<double>(params_.top_p) * total_weight;
  // Tokens lighter than (1 - top_p) * total / n_vocab are always dropped: together they weigh
  // less than the (1 - top_p) share that top-p discards from the least likely end, and they form
  // a least-likely suffix themselves. Skipping them shrinks the selection to the plausible head
  // (halved cut as a margin for rounding).
  const double cut = 0.5 * (total_weight - target_weight) / static_cast<double>(logits.size());
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (weights_[i] > 0.0f && weights_[i] >= cut) {
      candidates_.push_back({static_cast<int32_t>(i), logits[i], weights_[i]});
    }
  }
  // Weighted quickselect. Invariant: the tokens more likely than all of [lo, hi) carry
  // target_weight - needed, which is < target_weight, so the boundary lies in [lo, hi).
  auto at = [this](size_t i) { return candidates_.begin() + static_cast<std::ptrdiff_t>(i); };
  size_t lo = 0, hi = candidates_.size();
  double needed = target_weight;
  while (hi - lo > 1) {
    const Candidate& a = candidates_[lo];
    const Candidate& b = candidates_[lo + (hi - lo) / 2];
    const Candidate& c = candidates_[hi - 1];
    const Candidate pivot = more_likely(a, b) ? (more_likely(b, c) ? b : more_likely(a, c) ? c : a)
                                              : (more_likely(a, c) ? a : more_likely(b, c) ? c : b);
    const size_t split = static_cast<size_t>(
        std::partition(at(lo), at(hi), [&](const Candidate& x) { return more_likely(x, pivot); }) -
        candidates_.begin());
    double head_weight = 0.0;
    for (size_t i = lo; i < split; ++i) head_weight += candidates_[i].weight;
    if (head_weight >= needed) {
      hi = split;  // non-empty: needed > 0
      continue;
    }
    needed -= head_weight;
    auto pivot_at = std::find_if(at(split), at(hi),
                                 [&](const Candidate& x) { return x.id == pivot.id; });
    std::iter_swap(at(split), pivot_at);
    if (pivot.weight >= needed) return &candidates_[split];
    needed -= pivot.weight;
    lo = split + 1;
  }
  return lo < hi ? &candidates_[lo] : nullptr;
}

int32_t Sampler::draw(std::span<const Candidate> candidates, float min_weight) {
  double total_weight = 0.0;
  for (const Candidate& c : candidates) {
    if (c.weight > 0.0f && c.weight >= min_weight) total_weight += c.weight;
  }
  const double target = rng_.uniform01() * total_weight;
  double cumulative = 0.0;
  int32_t last_kept = -1;
  for (const Candidate& c : candidates) {
    if (!(c.weight > 0.0f && c.weight >= min_weight)) continue;  // 0: underflowed, never drawn
    cumulative += c.weight;
    last_kept = c.id;
    if (cumulative > target) return c.id;
  }
  return last_kept;  // only through rounding at the very top of the range
}

}  // namespace tokenmill
