// `tokenmill perplexity`: perplexity of a model over a text file, chunk by chunk as llama.cpp's
// perplexity tool measures it, and the KL divergence of its next-token distributions from a saved
// base run (docs/quality.md). Progress on stderr; the result on stdout (text or --json).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli_common.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "engine/model_loader.h"
#include "engine/perplexity_eval.h"
#include "formats/kld_base.h"

namespace tokenmill::cli {

namespace {

constexpr int32_t kDefaultCtxTokens = 512;

struct PerplexityFlags {
  ModelFlags model;
  std::string text_file;
  int64_t max_chunks = 0;
  std::string kld_base;
  bool kl_divergence = false;
  bool json = false;
};

// The text's token ids: BOS first when the tokenizer adds one, never EOS; special-token text in the
// file stays plain text.
std::vector<int32_t> tokenize_text(const Tokenizer& tok, std::string_view text) {
  std::vector<int32_t> ids;
  if (tok.spec().add_bos && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  const std::vector<int32_t> body = tok.encode(text, false, false);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

// Context per chunk: --ctx-size, else the base file's, else 512; never past the model's maximum.
int32_t chunk_ctx_tokens(const PerplexityFlags& f, const ModelConfig& cfg, const KldBaseReader* base) {
  if (base != nullptr) {
    const int64_t base_ctx = base->header().ctx_tokens;
    check(f.model.ctx == 0 || f.model.ctx == base_ctx,
          "--ctx-size " + std::to_string(f.model.ctx) + " differs from the context of " +
              std::to_string(base_ctx) + " tokens that " + base->path() + " was made with");
    check(base_ctx <= cfg.max_context, base->path() + ": its context of " + std::to_string(base_ctx) +
                                           " tokens exceeds the model's maximum of " +
                                           std::to_string(cfg.max_context));
    return int32_t(base_ctx);
  }
  if (f.model.ctx == 0) return int32_t(std::min<int64_t>(kDefaultCtxTokens, cfg.max_context));
  check(f.model.ctx <= cfg.max_context, "--ctx-size " + std::to_string(f.model.ctx) +
                                            " exceeds the model's maximum context of " +
                                            std::to_string(cfg.max_context) + " tokens");
  return f.model.ctx;
}

void print_text_report(const PerplexityReport& r) {
  const ChunkPlan& p = r.plan;
  const double tokens_per_s = r.seconds > 0 ? double(p.evaluated_tokens()) / r.seconds : 0;
  std::printf("PPL = %.4f +/- %.5f\n", r.ppl.ppl, r.ppl.ppl_std_error);
  std::printf("scored %lld tokens in %lld chunks of %d (%lld evaluated) in %.2f s = %.1f tokens/s\n",
              (long long)r.ppl.n_tokens, (long long)p.n_chunks, p.ctx_tokens, (long long)p.evaluated_tokens(),
              r.seconds, tokens_per_s);
  if (!r.kld) return;
  const KldSummary& k = *r.kld;
  std::printf("base PPL = %.4f +/- %.5f\n", k.ppl_base.ppl, k.ppl_base.ppl_std_error);
  std::printf("PPL ratio = %.6f (ln ratio %.6f +/- %.6f)\n", k.ppl_ratio, k.ln_ppl_ratio.mean,
              k.ln_ppl_ratio.std_error);
  std::printf("KLD mean = %.6f +/- %.6f\n", k.kld.mean, k.kld.std_error);
  std::printf("KLD median = %.6f, 90%% = %.6f, 95%% = %.6f, 99%% = %.6f, max = %.6f\n", k.kld_median,
              k.kld_p90, k.kld_p95, k.kld_p99, k.kld_max);
  std::printf("same top p = %.3f +/- %.3f %%\n", 100 * k.same_top_fraction, 100 * k.same_top_std_error);
}

nlohmann::json json_report(const PerplexityReport& r) {
  nlohmann::json j;
  j["ppl"] = r.ppl.ppl;
  j["ppl_stderr"] = r.ppl.ppl_std_error;
  j["nll_mean"] = r.ppl.nll_mean;
  j["nll_stderr"] = r.ppl.nll_std_error;
  j["n_tokens_scored"] = r.ppl.n_tokens;
  j["n_tokens_evaluated"] = r.plan.evaluated_tokens();
  j["n_chunks"] = r.plan.n_chunks;
  j["ctx"] = r.plan.ctx_tokens;
  j["seconds"] = r.seconds;
  j["tokens_per_second"] = r.seconds > 0 ? double(r.plan.evaluated_tokens()) / r.seconds : 0.0;
  if (r.kld) {
    const KldSummary& k = *r.kld;
    j["kld"] = {{"mean", k.kld.mean},
                {"stderr", k.kld.std_error},
                {"median", k.kld_median},
                {"p90", k.kld_p90},
                {"p95", k.kld_p95},
                {"p99", k.kld_p99},
                {"max", k.kld_max},
                {"same_top_p", k.same_top_fraction},
                {"same_top_p_stderr", k.same_top_std_error},
                {"ppl_base", k.ppl_base.ppl},
                {"ppl_base_stderr", k.ppl_base.ppl_std_error},
                {"ppl_ratio", k.ppl_ratio},
                {"ln_ppl_ratio", k.ln_ppl_ratio.mean},
                {"ln_ppl_ratio_stderr", k.ln_ppl_ratio.std_error},
                {"n_positions", k.kld.n}};
  }
  return j;
}

void perplexity(const PerplexityFlags& f) {
  check(!f.kl_divergence || !f.kld_base.empty(),
        "--kl-divergence needs --kl-divergence-base FILE to compare with");
  std::unique_ptr<KldBaseReader> base;
  if (f.kl_divergence) base = std::make_unique<KldBaseReader>(f.kld_base);
  const MappedFile text_file(f.text_file);
  check(text_file.size_bytes() > 0, f.text_file + ": empty file");

  LoadedModel m = load_model(f.model.model, f.model.load_options());
  const int32_t ctx = chunk_ctx_tokens(f, m.config, base.get());
  const std::vector<int32_t> tokens = tokenize_text(
      *m.tokenizer,
      std::string_view(reinterpret_cast<const char*>(text_file.data()), text_file.size_bytes()));
  // Comparing with a base: all of its chunks unless --chunks says fewer.
  int64_t max_chunks = f.max_chunks;
  if (base && max_chunks == 0) max_chunks = base->header().n_chunks;
  const ChunkPlan plan = plan_chunks(int64_t(tokens.size()), ctx, max_chunks);
  if (base && f.max_chunks == 0 && plan.n_chunks < int64_t(base->header().n_chunks))
    throw Error(f.text_file + " makes " + std::to_string(plan.n_chunks) + " chunks of " +
                std::to_string(ctx) + " tokens, but " + f.kld_base + " has " +
                std::to_string(base->header().n_chunks) + " (made from a different text?)");

  PerplexityEvalOptions options;
  options.plan = plan;
  if (m.tokenizer->spec().add_bos && m.tokenizer->bos_id() >= 0) options.bos_id = m.tokenizer->bos_id();
  if (!f.kl_divergence) options.kld_base_out = f.kld_base;
  options.kld_base = base.get();
  if (base) check_kld_base(*base, tokens, plan, m.config.vocab_size);

  ScorerOptions so = f.model.scorer_options();
  so.context_tokens = ctx;
  PromptScorer scorer(m, so);
  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %d, scoring the last %d of each%s\n",
               tokens.size(), (long long)plan.n_chunks, ctx, plan.scored_per_chunk(),
               options.bos_id ? ", each chunk starting with BOS" : "");
  const PerplexityReport report =
      evaluate_perplexity(scorer, m.config.vocab_size, tokens, options, [](int64_t chunk, double ppl) {
        std::fprintf(stderr, "[%lld]%.4f,", (long long)chunk, ppl);
        std::fflush(stderr);
      });
  std::fprintf(stderr, "\n");
  if (!options.kld_base_out.empty())
    std::fprintf(stderr, "wrote the log-probabilities of %lld positions to %s\n",
                 (long long)plan.scored_tokens(), options.kld_base_out.c_str());
  if (f.json) {
    std::printf("%s\n", json_report(report).dump(2).c_str());
  } else {
    print_text_report(report);
  }
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto f = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity",
      "Perplexity of a model over a text file, and KL divergence from a base run (docs/quality.md)");
  f->model.add(*cmd);
  cmd->get_option("--ctx-size")
      ->description("Tokens per chunk (0 = 512, or the KLD base's; at most the model's context)");
  // Short spellings of the shared -c/--ctx-size and -b/--batch-size.
  cmd->add_option("--ctx", f->model.ctx, "Same as --ctx-size")->check(CLI::NonNegativeNumber)->group("");
  cmd->add_option("--batch", f->model.batch, "Same as --batch-size")->check(CLI::PositiveNumber)->group("");
  cmd->add_option("-f,--file", f->text_file, "Text file to score")->required()->type_name("FILE");
  cmd->add_option("--chunks", f->max_chunks, "Score at most this many chunks (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option(
         "--kl-divergence-base", f->kld_base,
         "Save the scored positions' log-probabilities to FILE (or, with --kl-divergence, read them)")
      ->type_name("FILE");
  cmd->add_flag(
      "--kl-divergence", f->kl_divergence,
      "Compare with the --kl-divergence-base FILE: KL divergence, same top token, both perplexities");
  cmd->add_flag("--json", f->json, "Print the result as one JSON object");
  cmd->callback([f] { perplexity(*f); });
}

}  // namespace tokenmill::cli
