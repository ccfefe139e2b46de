#include "engine/perplexity_eval.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "core/error.h"

namespace tokenmill {

void check_kld_base(const KldBaseReader& base, std::span<const int32_t> tokens, const ChunkPlan& plan,
                    int32_t vocab_size) {
  const KldBaseHeader& h = base.header();
  const std::string& path = base.path();
  check(int64_t(h.vocab_size) == vocab_size, path + ": the base has a vocabulary of " +
                                                 std::to_string(h.vocab_size) + " tokens, this model " +
                                                 std::to_string(vocab_size));
  check(int64_t(h.ctx_tokens) == plan.ctx_tokens,
        path + ": the base was made with a context of " + std::to_string(h.ctx_tokens) +
            " tokens, this run uses " + std::to_string(plan.ctx_tokens));
  check(plan.n_chunks <= int64_t(h.n_chunks), path + ": the base has " + std::to_string(h.n_chunks) +
                                                  " chunks, this run asks for " +
                                                  std::to_string(plan.n_chunks));
  const size_t n = size_t(plan.evaluated_tokens());
  check(n <= tokens.size(), "the text has fewer tokens than the chunks to compare");
  const std::span<const int32_t> theirs = base.tokens();
  for (size_t i = 0; i < n; ++i) {
    if (theirs[i] != tokens[i])
      throw Error(path + ": the base was made from different tokens: token " + std::to_string(i) + " is " +
                  std::to_string(theirs[i]) + " there and " + std::to_string(tokens[i]) +
                  " here (same text and tokenizer?)");
  }
}

PerplexityReport evaluate_perplexity(PromptScorer& scorer, int32_t vocab_size,
                                     std::span<const int32_t> tokens, const PerplexityEvalOptions& options,
                                     const PerplexityProgress& progress) {
  const ChunkPlan& plan = options.plan;
  check(plan.n_chunks > 0 && plan.evaluated_tokens() <= int64_t(tokens.size()),
        "perplexity: the chunks do not fit the text");
  check(scorer.context_tokens() >= plan.ctx_tokens,
        "perplexity: the scorer's context is smaller than a chunk");
  if (options.kld_base != nullptr) check_kld_base(*options.kld_base, tokens, plan, vocab_size);

  const int32_t first = plan.first_scored_position();
  const int32_t n_rows = plan.scored_per_chunk();
  const size_t vocab = size_t(vocab_size);

  std::unique_ptr<KldBaseWriter> writer;
  if (!options.kld_base_out.empty()) {
    KldBaseHeader h;
    h.vocab_size = uint32_t(vocab_size);
    h.ctx_tokens = uint32_t(plan.ctx_tokens);
    h.n_chunks = uint32_t(plan.n_chunks);
    h.first_scored = uint32_t(first);
    h.scored_per_chunk = uint32_t(n_rows);
    writer = std::make_unique<KldBaseWriter>(options.kld_base_out, h,
                                             tokens.subspan(0, size_t(plan.evaluated_tokens())));
  }
  const bool need_logprobs = writer != nullptr || options.kld_base != nullptr;

  std::vector<double> nll;  // [scored tokens so far], nats
  double nll_sum = 0;
  nll.reserve(size_t(plan.scored_tokens()));
  KldAccumulator kld;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < plan.n_chunks; ++c) {
    const std::vector<int32_t> ids = chunk_input_ids(tokens, plan, c, options.bos_id);
    // [n_rows, vocab]: logits of chunk positions first .. ctx - 2; overwritten by log-probs below.
    std::vector<float> rows = scorer.prompt_logits(ids, first, first + n_rows);
    for (int32_t r = 0; r < n_rows; ++r) {
      const std::span<float> row(rows.data() + size_t(r) * vocab, vocab);
      const int32_t target = scored_target(tokens, plan, c, r);
      const double token_loss = token_nll(row, target);
      nll.push_back(token_loss);
      nll_sum += token_loss;
      if (!need_logprobs) continue;
      log_softmax(row, row);  // in place
      if (options.kld_base != nullptr) {
        const std::span<const float> base = options.kld_base->chunk_logprobs(uint32_t(c));
        kld.add(base.subspan(size_t(r) * vocab, vocab), row, token_loss, target);
      }
    }
    if (writer) writer->append_chunk(rows);
    if (options.kld_base != nullptr) options.kld_base->release_chunk(uint32_t(c));
    if (progress) progress(c + 1, std::exp(nll_sum / double(nll.size())));
  }
  if (writer) writer->finish();

  PerplexityReport report;
  report.plan = plan;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.ppl = perplexity_from_nll(nll);
  if (options.kld_base != nullptr) report.kld = kld.summary();
  return report;
}

}  // namespace tokenmill
