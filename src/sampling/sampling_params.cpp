#include "sampling/sampling_params.h"

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace tokenmill {
namespace {

// Shortest readable form of a value for error messages: -1, 0.5, 1e-09, nan, inf.
template <typename T>
std::string show(T value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

bool in_vocab(int32_t id, int32_t n_vocab) { return id >= 0 && id < n_vocab; }

}  // namespace

void SamplingParams::validate(int32_t n_vocab) const {
  check(n_vocab >= 1, "vocabulary size must be >= 1, got " + show(n_vocab));
  // Written as !(in range) so that NaN fails every check.
  check(temperature >= 0.0f && std::isfinite(temperature),
        "temperature must be >= 0 and finite (0 = greedy), got " + show(temperature));
  check(top_k >= -1, "top_k must be >= -1 (0 or -1 = off), got " + show(top_k));
  check(top_p > 0.0f && top_p <= 1.0f, "top_p must be in (0, 1], got " + show(top_p));
  check(min_p >= 0.0f && min_p <= 1.0f, "min_p must be in [0, 1], got " + show(min_p));
  check(repetition_penalty > 0.0f && std::isfinite(repetition_penalty),
        "repetition_penalty must be > 0 and finite (1 = off), got " + show(repetition_penalty));
  check(presence_penalty >= -2.0f && presence_penalty <= 2.0f,
        "presence_penalty must be in [-2, 2], got " + show(presence_penalty));
  check(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f,
        "frequency_penalty must be in [-2, 2], got " + show(frequency_penalty));
  const std::string vocab_range = "[0, " + show(n_vocab) + ")";
  for (const auto& [token_id, bias] : logit_bias) {
    check(in_vocab(token_id, n_vocab),
          "logit_bias token id must be in " + vocab_range + ", got " + show(token_id));
    check(std::isfinite(bias) || bias == -INFINITY,
          "logit_bias value for token " + show(token_id) + " must be finite or -inf, got " +
              show(bias));
  }
  if (max_tokens) {
    check(*max_tokens >= 1, "max_tokens must be >= 1, got " + show(*max_tokens));
  }
  for (size_t i = 0; i < stop.size(); ++i) {
    check(!stop[i].empty(), "stop[" + show(i) + "] must be a non-empty string");
  }
  for (int32_t token_id : stop_token_ids) {
    check(in_vocab(token_id, n_vocab),
          "stop_token_ids entry must be in " + vocab_range + ", got " + show(token_id));
  }
}

}  // namespace tokenmill
