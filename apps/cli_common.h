// Flags shared by the subcommands that load a model or sample text.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine/model_loader.h"
#include "engine/prompt_scorer.h"
#include "sampling/sampling_params.h"

namespace tokenmill::cli {

// Path of the bundled default model: $TOKENMILL_MODEL, else models/tokenmill-default.gguf next to
// the build tree or the current directory.
std::string default_model_path();

struct ModelFlags {
  std::string model;
  int threads = 0;
  int32_t ctx = 0;
  int32_t batch = 256;
  bool no_repack = false;
  ActivationMode activations = ActivationMode::Auto;
  void add(CLI::App& cmd, bool with_compute = true);
  ScorerOptions scorer_options() const;
  LoadOptions load_options() const;
};

struct SamplingFlags {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int64_t seed = -1;
  int32_t max_tokens = 128;
  std::vector<std::string> stop;
  std::vector<std::string> logit_bias;  // "ID=BIAS" or "ID=-inf"
  bool ignore_eos = false;
  void add(CLI::App& cmd);
  SamplingParams params() const;  // throws Error for malformed --logit-bias
};

// Help of --no-repack (run, chat, logits, serve, bench).
inline constexpr const char* kNoRepackHelp =
    "Compute Q4_0 / Q8_0 weights in the file's layout instead of repacking them at load "
    "(repacked: faster decode; the weights then live in process memory, not the page cache)";

// --activations {auto,int8,float} (run, chat, logits, serve, bench and every command that loads a
// model through ModelFlags): the activations quantized matrices are multiplied with.
void add_activations_option(CLI::App& cmd, ActivationMode& mode);

// Installs the subcommands.
void add_run_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_tokenize_commands(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_bench_command(CLI::App& app);
// `bench serve`, installed under the `bench` command by add_bench_command.
void add_bench_serve_command(CLI::App& bench);
// `bench ablate`, installed under the `bench` command by add_bench_command.
void add_bench_ablate_command(CLI::App& bench);
void add_quantize_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_cost_command(CLI::App& app);
void add_report_command(CLI::App& app);

}  // namespace tokenmill::cli
