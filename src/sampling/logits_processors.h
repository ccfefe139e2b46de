// Logits processors that rewrite raw logits in place before any filtering: logit bias and
// repetition / presence / frequency penalties. Token ids are checked against the vocabulary.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tokenmill {

// logits: [n_vocab]. logits[id] += bias for each (id, bias); ids must be in [0, n_vocab).
void apply_logit_bias(std::span<float> logits,
                      std::span<const std::pair<int32_t, float>> logit_bias);

// Per-vocabulary scratch for apply_penalties, reused across calls so a decode step does not
// allocate. Invariant between calls: every entry is zero (only touched entries are reset).
struct PenaltyScratch {
  std::vector<int32_t> output_count;  // [n_vocab] occurrences in output_ids
  std::vector<uint8_t> in_context;    // [n_vocab] 1 if the token is in prompt_ids or output_ids
};

// logits: [n_vocab]; prompt_ids: [n_prompt], output_ids: [n_output], all in [0, n_vocab).
// For each distinct token in prompt + output: logit / repetition_penalty if logit > 0, else
// logit * repetition_penalty. Then for each distinct token in output with count c:
// logit -= frequency_penalty * c + presence_penalty. Cost O(n_prompt + n_output).
void apply_penalties(std::span<float> logits, std::span<const int32_t> prompt_ids,
                     std::span<const int32_t> output_ids, float repetition_penalty,
                     float presence_penalty, float frequency_penalty, PenaltyScratch& scratch);

}  // namespace tokenmill
