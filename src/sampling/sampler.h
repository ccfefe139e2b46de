// Sampler: turns one position's logits into a token id under a request's SamplingParams.
//
// Order of operations (docs/sampling.md):
//   logit bias -> repetition/presence/frequency penalties
//   -> temperature == 0: argmax (ties to the lowest id)
//   -> temperature -> top-k -> softmax -> top-p -> min-p -> renormalize -> draw
// Candidates are ordered by (logit descending, id ascending), a total order, so the kept set and
// the draw do not depend on the standard library's sort. Each Sampler owns its RNG: the same
// seed, params and logits give the same tokens on every platform.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "sampling/logits_processors.h"
#include "sampling/rng.h"
#include "sampling/sampling_params.h"

namespace tokenmill {

class Sampler {
 public:
  // default_seed seeds the RNG when params.seed is unset (the engine supplies fresh randomness).
  // params are checked with validate(n_vocab) on the first sample() for each vocabulary size.
  Sampler(const SamplingParams& params, uint64_t default_seed);

  // logits: [n_vocab] raw scores for one position; on return they hold the values after logit
  // bias and penalties (temperature and filters work on a private copy).
  // prompt_ids: [n_prompt], output_ids: [n_output] generated so far; ids in [0, n_vocab).
  // Throws Error when no token can be drawn (every logit -inf or NaN, or a +inf logit).
  int32_t sample(std::span<float> logits, std::span<const int32_t> prompt_ids,
                 std::span<const int32_t> output_ids);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;   // after bias and penalties, before temperature
    float weight;  // exp((logit - max_logit) / temperature): unnormalized probability, max 1
  };

  // Total order: higher logit first, equal logits by lower id.
  static bool more_likely(const Candidate& a, const Candidate& b);

  // top-k path: candidates_ = the k most likely finite tokens, sorted; then top-p, min-p, draw.
  int32_t sample_top_k(std::span<const float> logits, float max_logit);
  // Full-vocabulary path: weights_ in id order, top-p by selection instead of sorting.
  int32_t sample_full(std::span<const float> logits, float max_logit);
  // The least likely token that top-p keeps (cumulative weight from the most likely reaches
  // top_p * total_weight); nullptr when rounding leaves every token kept. Expected O(n_vocab).
  const Candidate* top_p_boundary(std::span<const float> logits, double total_weight);
  // Draws from candidates with weight >= min_weight, in the given order.
  int32_t draw(std::span<const Candidate> candidates, float min_weight);

  SamplingParams params_;
  Xoshiro256StarStar rng_;
  int32_t validated_n_vocab_ = 0;
  // Scratch, capacity kept across calls so a decode step does not allocate.
  PenaltyScratch penalty_scratch_;
  std::vector<Candidate> candidates_;  // [<= n_vocab] candidates of the top-k path / selection
  std::vector<float> weights_;         // [n_vocab] full path weights by id; 0 = cannot be drawn
};

}  // namespace tokenmill
