#include "sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace tokenmill {

double log_sum_exp(std::span<const float> logits) {
  check(!logits.empty(), "log-probabilities need at least one logit");
  float max_logit = -INFINITY;
  for (float logit : logits) {
    check(!std::isnan(logit) && logit != INFINITY, "logits must be finite or -inf");
    max_logit = std::max(max_logit, logit);
  }
  check(max_logit > -INFINITY, "log-probabilities are undefined when every logit is -inf");
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(static_cast<double>(logit) - max_logit);
  return max_logit + std::log(sum);
}

std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int k) {
  const double normalizer = log_sum_exp(logits);
  const size_t n_keep = std::min(logits.size(), static_cast<size_t>(std::max(k, 0)));
  // (logit, id) under "more likely": higher logit, then lower id. A heap keyed so that its
  // front is the least likely of those kept holds the current best n_keep.
  const auto more_likely = [&logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::vector<int32_t> best;
  best.reserve(n_keep + 1);
  for (size_t i = 0; i < logits.size() && n_keep > 0; ++i) {
    const auto id = static_cast<int32_t>(i);
    if (best.size() < n_keep) {
      best.push_back(id);
      std::push_heap(best.begin(), best.end(), more_likely);
    } else if (more_likely(id, best.front())) {
      std::pop_heap(best.begin(), best.end(), more_likely);
      best.back() = id;
      std::push_heap(best.begin(), best.end(), more_likely);
    }
  }
  std::sort(best.begin(), best.end(), more_likely);
  std::vector<std::pair<int32_t, float>> result;
  result.reserve(best.size());
  for (int32_t id : best) {
    result.emplace_back(id, static_cast<float>(logits[id] - normalizer));
  }
  return result;
}

float logprob_of(std::span<const float> logits, int32_t token_id) {
  check(token_id >= 0 && static_cast<size_t>(token_id) < logits.size(),
        "token id must be in [0, " + std::to_string(logits.size()) + "), got " +
            std::to_string(token_id));
  return static_cast<float>(logits[token_id] - log_sum_exp(logits));
}

}  // namespace tokenmill
