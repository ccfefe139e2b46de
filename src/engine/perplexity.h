// Perplexity and KL-divergence arithmetic for `tokenmill perplexity` (docs/quality.md): how a token
// stream is cut into chunks and which positions are scored, log-softmax in double, the mean
// negative log-likelihood with its standard error, and the statistics of KL(base || this) between
// two models' next-token distributions. No model here; perplexity_eval.h runs one.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace tokenmill {

// The stream is cut into consecutive, non-overlapping chunks of ctx_tokens; each chunk is evaluated
// from an empty KV cache. Of a chunk's positions 0..ctx-1, the logits of positions
// [first_scored_position, ctx - 1) are scored, each predicting the token after it, so the scored
// tokens are those at positions [ctx/2 + 1, ctx) and every one has at least ctx/2 tokens of context.
// (The last position's logits would predict the next chunk's first token, which this chunk cannot
// see: it is not scored.)
struct ChunkPlan {
  int32_t ctx_tokens = 0;  // tokens per chunk (>= kMinChunkTokens)
  int64_t n_chunks = 0;

  int32_t first_scored_position() const { return ctx_tokens / 2; }
  int32_t scored_per_chunk() const { return ctx_tokens - ctx_tokens / 2 - 1; }
  int64_t scored_tokens() const { return n_chunks * scored_per_chunk(); }
  int64_t evaluated_tokens() const { return n_chunks * ctx_tokens; }
};

// Smallest chunk with a scored token: 2 tokens of context, 1 scored, 1 that predicts nothing.
inline constexpr int32_t kMinChunkTokens = 4;

// Chunks of ctx_tokens over a stream of n_tokens: all whole chunks, at most max_chunks (0 = all).
// Throws Error when ctx_tokens < kMinChunkTokens or the stream holds less than one whole chunk
// (the message says how many tokens there are and how many are needed).
ChunkPlan plan_chunks(int64_t n_tokens, int32_t ctx_tokens, int64_t max_chunks);

// The ids chunk `chunk` is evaluated on: tokens[chunk * ctx, (chunk + 1) * ctx), the first replaced
// by bos_id when the model's tokenizer adds BOS (so every chunk starts like a fresh document).
std::vector<int32_t> chunk_input_ids(std::span<const int32_t> tokens, const ChunkPlan& plan, int64_t chunk,
                                     std::optional<int32_t> bos_id);

// Token predicted by scored row `row` (0 .. scored_per_chunk - 1) of chunk `chunk`: the token at
// chunk position first_scored_position + row + 1 of the original stream (never the BOS replacement).
int32_t scored_target(std::span<const int32_t> tokens, const ChunkPlan& plan, int64_t chunk, int32_t row);

// Log-softmax pieces in double over logits: [vocab] (log_sum_exp is sampling/logprobs.h's, which
// refuses NaN, +inf and all -inf with an Error).
// -log softmax(logits)[token], in double.
double token_nll(std::span<const float> logits, int32_t token);
// out[v] = logits[v] - log_sum_exp(logits), computed in double and rounded to float.
// logits, out: [vocab].
void log_softmax(std::span<const float> logits, std::span<float> out);
// Index of the largest value (the lowest index among equal maxima). values: non-empty.
int32_t argmax(std::span<const float> values);

// Sample mean and its standard error sqrt(s^2 / n), s^2 the unbiased sample variance
// (= sqrt((E[x^2] - E[x]^2) / (n - 1))). std_error is 0 when n < 2.
struct MeanEstimate {
  double mean = 0;
  double std_error = 0;
  int64_t n = 0;
};
MeanEstimate mean_with_std_error(std::span<const double> values);

// Perplexity exp(mean NLL) of per-token negative log-likelihoods (nats), with the first-order
// standard error ppl * std_error(mean NLL). Throws Error when nll is empty.
struct PerplexityEstimate {
  double ppl = 0;
  double ppl_std_error = 0;
  double nll_mean = 0;
  double nll_std_error = 0;
  int64_t n_tokens = 0;
};
PerplexityEstimate perplexity_from_nll(std::span<const double> nll);

// KL(base || other) = sum_v p_base[v] * (log p_base[v] - log p_other[v]) in nats. Both arguments are
// log-probabilities (or logits: each is renormalized in double first, so shifts do not matter).
// Equal inputs give exactly 0. base_logprobs, other_logprobs: [vocab].
double kl_divergence(std::span<const float> base_logprobs, std::span<const float> other_logprobs);

// Value at `fraction` (0..1) of sorted values, interpolating linearly between neighbours at
// fraction * (n - 1) (numpy's default). sorted_values: non-empty, ascending.
double percentile(std::span<const double> sorted_values, double fraction);

struct KldSummary {
  MeanEstimate kld;  // nats per scored position
  double kld_median = 0, kld_p90 = 0, kld_p95 = 0, kld_p99 = 0, kld_max = 0;
  double same_top_fraction = 0;   // share of positions whose argmax equals the base's
  double same_top_std_error = 0;  // binomial: sqrt(f (1 - f) / (n - 1)); 0 when n < 2
  PerplexityEstimate ppl;         // this model
  PerplexityEstimate ppl_base;    // the base, from its stored log-probabilities
  double ppl_ratio = 0;           // ppl / ppl_base
  MeanEstimate ln_ppl_ratio;      // mean of nll - nll_base per position (paired), = ln(ppl_ratio)
};

// Collects one scored position at a time (memory: three doubles per position, for percentiles and
// paired standard errors).
class KldAccumulator {
 public:
  // base_logprobs: the base's stored log-probabilities [vocab]; logprobs: this model's [vocab];
  // nll: this model's -log p(target) in double; target: the token predicted.
  void add(std::span<const float> base_logprobs, std::span<const float> logprobs, double nll, int32_t target);
  int64_t n_positions() const { return int64_t(kld_.size()); }
  // Throws Error when nothing was added.
  KldSummary summary() const;

 private:
  std::vector<double> kld_, nll_, nll_base_;
  int64_t same_top_ = 0;
};

}  // namespace tokenmill
