// Runs a perplexity evaluation (docs/quality.md): every chunk of a ChunkPlan through a
// PromptScorer from an empty KV cache, scoring the second half of each; optionally saving the
// scored positions' log-probabilities as a KLD base file, or comparing them with one.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "engine/perplexity.h"
#include "engine/prompt_scorer.h"
#include "formats/kld_base.h"

namespace tokenmill {

struct PerplexityEvalOptions {
  ChunkPlan plan;
  std::optional<int32_t> bos_id;            // replaces the first token of every chunk when set
  std::string kld_base_out;                 // non-empty: write the log-probabilities here
  const KldBaseReader* kld_base = nullptr;  // set: compare with this base (check_kld_base first)
};

struct PerplexityReport {
  ChunkPlan plan;
  PerplexityEstimate ppl;
  std::optional<KldSummary> kld;  // with kld_base
  double seconds = 0;             // evaluating and scoring the chunks (not loading, not tokenizing)
};

// Called after each chunk with the number of chunks done and the perplexity so far.
using PerplexityProgress = std::function<void(int64_t chunks_done, double running_ppl)>;

// Throws Error unless `base` was made from the same tokens with the same chunking and vocabulary:
// vocab_size and ctx_tokens equal, plan.n_chunks <= the base's chunks, and the first
// plan.n_chunks * ctx_tokens tokens equal (the message names the first differing token).
void check_kld_base(const KldBaseReader& base, std::span<const int32_t> tokens, const ChunkPlan& plan,
                    int32_t vocab_size);

// tokens: the whole text's token ids; the plan's chunks must lie inside it. Holds the logits of
// one chunk at a time ([scored_per_chunk, vocab] floats).
PerplexityReport evaluate_perplexity(PromptScorer& scorer, int32_t vocab_size,
                                     std::span<const int32_t> tokens, const PerplexityEvalOptions& options,
                                     const PerplexityProgress& progress);

}  // namespace tokenmill
