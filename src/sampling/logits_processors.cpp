#include "sampling/logits_processors.h"

#include <string>

#include "core/error.h"

namespace tokenmill {
namespace {

void check_token_ids(std::span<const int32_t> ids, size_t n_vocab, const char* what) {
  for (int32_t id : ids) {
    check(id >= 0 && static_cast<size_t>(id) < n_vocab,
          std::string(what) + " token id must be in [0, " + std::to_string(n_vocab) + "), got " +
              std::to_string(id));
  }
}

}  // namespace

void apply_logit_bias(std::span<float> logits,
                      std::span<const std::pair<int32_t, float>> logit_bias) {
  for (const auto& [token_id, bias] : logit_bias) {
    check(token_id >= 0 && static_cast<size_t>(token_id) < logits.size(),
          "logit_bias token id must be in [0, " + std::to_string(logits.size()) + "), got " +
              std::to_string(token_id));
    logits[token_id] += bias;
  }
}

void apply_penalties(std::span<float> logits, std::span<const int32_t> prompt_ids,
                     std::span<const int32_t> output_ids, float repetition_penalty,
                     float presence_penalty, float frequency_penalty, PenaltyScratch& scratch) {
  const size_t n_vocab = logits.size();
  check_token_ids(prompt_ids, n_vocab, "prompt");
  check_token_ids(output_ids, n_vocab, "output");
  if (scratch.output_count.size() != n_vocab) {
    scratch.output_count.assign(n_vocab, 0);
    scratch.in_context.assign(n_vocab, 0);
  }

  for (int32_t id : prompt_ids) scratch.in_context[id] = 1;
  for (int32_t id : output_ids) {
    scratch.in_context[id] = 1;
    ++scratch.output_count[id];
  }

  // Each distinct token is penalized once: the first visit applies and clears its entries,
  // which also restores the all-zero invariant.
  auto penalize = [&](int32_t id) {
    if (!scratch.in_context[id]) return;
    float& logit = logits[id];
    if (repetition_penalty != 1.0f) {
      logit = logit > 0.0f ? logit / repetition_penalty : logit * repetition_penalty;
    }
    const int32_t count = scratch.output_count[id];
    if (count > 0) {
      logit -= frequency_penalty * static_cast<float>(count) + presence_penalty;
    }
    scratch.in_context[id] = 0;
    scratch.output_count[id] = 0;
  };
  for (int32_t id : prompt_ids) penalize(id);
  for (int32_t id : output_ids) penalize(id);
}

}  // namespace tokenmill
