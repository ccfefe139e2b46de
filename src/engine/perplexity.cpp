#include "engine/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "sampling/logprobs.h"

namespace tokenmill {

ChunkPlan plan_chunks(int64_t n_tokens, int32_t ctx_tokens, int64_t max_chunks) {
  check(ctx_tokens >= kMinChunkTokens, "context of " + std::to_string(ctx_tokens) +
                                           " tokens is too small: perplexity needs at least " +
                                           std::to_string(kMinChunkTokens) +
                                           " (the first half of each chunk is context, the rest is scored)");
  check(max_chunks >= 0, "chunk limit must be >= 0 (0 = all)");
  check(n_tokens >= ctx_tokens, "the text has " + std::to_string(n_tokens) +
                                    " tokens; one chunk of context " + std::to_string(ctx_tokens) +
                                    " needs " + std::to_string(ctx_tokens) +
                                    " (give a longer text or a smaller context)");
  ChunkPlan plan;
  plan.ctx_tokens = ctx_tokens;
  plan.n_chunks = n_tokens / ctx_tokens;
  if (max_chunks > 0) plan.n_chunks = std::min(plan.n_chunks, max_chunks);
  return plan;
}

std::vector<int32_t> chunk_input_ids(std::span<const int32_t> tokens, const ChunkPlan& plan, int64_t chunk,
                                     std::optional<int32_t> bos_id) {
  check(chunk >= 0 && chunk < plan.n_chunks, "chunk " + std::to_string(chunk) + " out of range");
  const size_t begin = size_t(chunk) * size_t(plan.ctx_tokens);
  check(begin + size_t(plan.ctx_tokens) <= tokens.size(),
        "chunk " + std::to_string(chunk) + " past the text");
  std::vector<int32_t> ids(tokens.begin() + long(begin),
                           tokens.begin() + long(begin + size_t(plan.ctx_tokens)));
  if (bos_id) ids[0] = *bos_id;
  return ids;
}

int32_t scored_target(std::span<const int32_t> tokens, const ChunkPlan& plan, int64_t chunk, int32_t row) {
  return tokens[size_t(chunk) * size_t(plan.ctx_tokens) + size_t(plan.first_scored_position() + row + 1)];
}

double token_nll(std::span<const float> logits, int32_t token) {
  check(token >= 0 && size_t(token) < logits.size(),
        "token id " + std::to_string(token) + " outside the vocabulary of " + std::to_string(logits.size()));
  return log_sum_exp(logits) - double(logits[size_t(token)]);
}

void log_softmax(std::span<const float> logits, std::span<float> out) {
  check(out.size() == logits.size(), "log-softmax: output size differs from input size");
  const double lse = log_sum_exp(logits);
  for (size_t v = 0; v < logits.size(); ++v) out[v] = float(double(logits[v]) - lse);
}

int32_t argmax(std::span<const float> values) {
  check(!values.empty(), "argmax of an empty vector");
  return int32_t(std::max_element(values.begin(), values.end()) - values.begin());
}

MeanEstimate mean_with_std_error(std::span<const double> values) {
  MeanEstimate e;
  e.n = int64_t(values.size());
  if (values.empty()) return e;
  double sum = 0;
  for (double v : values) sum += v;
  e.mean = sum / double(e.n);
  if (e.n < 2) return e;
  double squares = 0;  // two passes: no cancellation when the spread is small next to the mean
  for (double v : values) squares += (v - e.mean) * (v - e.mean);
  const double sample_variance = squares / double(e.n - 1);
  e.std_error = std::sqrt(sample_variance / double(e.n));
  return e;
}

PerplexityEstimate perplexity_from_nll(std::span<const double> nll) {
  check(!nll.empty(), "perplexity of no tokens");
  const MeanEstimate m = mean_with_std_error(nll);
  PerplexityEstimate p;
  p.nll_mean = m.mean;
  p.nll_std_error = m.std_error;
  p.n_tokens = m.n;
  p.ppl = std::exp(m.mean);
  p.ppl_std_error = p.ppl * m.std_error;  // d exp(x) = exp(x) dx
  return p;
}

double kl_divergence(std::span<const float> base_logprobs, std::span<const float> other_logprobs) {
  check(base_logprobs.size() == other_logprobs.size(), "KL divergence of distributions of different sizes");
  const double base_lse = log_sum_exp(base_logprobs);
  const double other_lse = log_sum_exp(other_logprobs);
  double kld = 0;
  for (size_t v = 0; v < base_logprobs.size(); ++v) {
    const double log_p = double(base_logprobs[v]) - base_lse;
    if (std::isinf(log_p)) continue;  // p = 0 contributes nothing
    const double log_q = double(other_logprobs[v]) - other_lse;
    kld += std::exp(log_p) * (log_p - log_q);
  }
  return kld;
}

double percentile(std::span<const double> sorted_values, double fraction) {
  check(!sorted_values.empty(), "percentile of no values");
  const size_t n = sorted_values.size();
  if (fraction <= 0) return sorted_values.front();
  if (fraction >= 1) return sorted_values.back();
  const double at = fraction * double(n - 1);
  const size_t below = size_t(at);
  const size_t above = std::min(below + 1, n - 1);
  const double w = at - double(below);
  return (1 - w) * sorted_values[below] + w * sorted_values[above];
}

void KldAccumulator::add(std::span<const float> base_logprobs, std::span<const float> logprobs, double nll,
                         int32_t target) {
  kld_.push_back(kl_divergence(base_logprobs, logprobs));
  nll_.push_back(nll);
  nll_base_.push_back(token_nll(base_logprobs, target));
  if (argmax(base_logprobs) == argmax(logprobs)) ++same_top_;
}

KldSummary KldAccumulator::summary() const {
  check(!kld_.empty(), "KL divergence of no positions");
  KldSummary s;
  s.kld = mean_with_std_error(kld_);
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  s.kld_median = percentile(sorted, 0.5);
  s.kld_p90 = percentile(sorted, 0.90);
  s.kld_p95 = percentile(sorted, 0.95);
  s.kld_p99 = percentile(sorted, 0.99);
  s.kld_max = sorted.back();
  const double n = double(kld_.size());
  s.same_top_fraction = double(same_top_) / n;
  if (n >= 2) s.same_top_std_error = std::sqrt(s.same_top_fraction * (1 - s.same_top_fraction) / (n - 1));
  s.ppl = perplexity_from_nll(nll_);
  s.ppl_base = perplexity_from_nll(nll_base_);
  s.ppl_ratio = s.ppl.ppl / s.ppl_base.ppl;
  std::vector<double> diff(nll_.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = nll_[i] - nll_base_[i];
  s.ln_ppl_ratio = mean_with_std_error(diff);
  return s;
}

}  // namespace tokenmill
