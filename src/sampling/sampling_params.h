// Per-request sampling settings, as a request or CLI flag states them. validate() is the one
// place that checks ranges; it runs at admission so a bad request fails before it takes a slot.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tokenmill {

struct SamplingParams {
  float temperature = 1.0f;  // >= 0; 0 = greedy (argmax, ties to the lowest id)
  int32_t top_k = 0;         // keep the k most likely tokens; 0 or -1 = off
  float top_p = 1.0f;        // (0, 1]: keep the smallest most-likely set with mass >= top_p
  float min_p = 0.0f;        // [0, 1]: drop tokens with p < min_p * p_max; 0 = off
  // > 0, 1 = off. For every token in prompt + output: logit / penalty if logit > 0, else
  // logit * penalty (CTRL / Hugging Face / llama.cpp).
  float repetition_penalty = 1.0f;
  // [-2, 2], 0 = off. On generated tokens only (OpenAI):
  // logit -= frequency_penalty * count + presence_penalty * (count > 0).
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  // (token id in [0, n_vocab), added to its logit); -inf bans the token.
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::optional<uint64_t> seed;        // unset: the engine supplies one per request
  std::optional<int32_t> max_tokens;   // >= 1 when set; unset: until a stop or the context ends
  std::vector<std::string> stop;       // non-empty UTF-8 strings; matched on decoded text
  std::vector<int32_t> stop_token_ids; // in [0, n_vocab); end generation like EOS does
  bool ignore_eos = false;             // keep generating past the model's end-of-sequence token

  // Throws Error naming the first bad parameter, its allowed range and the value given.
  void validate(int32_t n_vocab) const;

  bool is_greedy() const { return temperature == 0.0f; }
};

}  // namespace tokenmill
