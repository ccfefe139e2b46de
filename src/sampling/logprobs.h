// Log-probabilities of raw logits (log-softmax at temperature 1), for OpenAI-style `logprobs`.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tokenmill {

// log(sum_i exp(logits[i])), computed stably; -inf entries contribute nothing.
// logits: [n_vocab], non-empty, at least one entry > -inf and none +inf or NaN.
double log_sum_exp(std::span<const float> logits);

// The k most likely tokens as (id, log-probability), most likely first, equal logits by lower
// id. logits: [n_vocab]; k is clamped to [0, n_vocab]. O(n_vocab log k), no vocabulary copy.
std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int k);

// log-softmax(logits)[token_id]; token_id in [0, n_vocab). -inf for a banned token.
float logprob_of(std::span<const float> logits, int32_t token_id);

}  // namespace tokenmill
