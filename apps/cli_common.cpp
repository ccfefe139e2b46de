#include "cli_common.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "core/error.h"

namespace tokenmill::cli {

std::string default_model_path() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("TOKENMILL_MODEL"); env != nullptr && *env != '\0') return env;
  const std::string name = "models/tokenmill-default.gguf";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
      if (fs::exists(dir / name, ec)) return (dir / name).string();
  }
  return name;
}

void ModelFlags::add(CLI::App& cmd, bool with_compute) {
  model = default_model_path();
  cmd.add_option("-m,--model", model, "GGUF file or Hugging Face checkpoint directory (default: bundled model)");
  if (!with_compute) return;
  cmd.add_option("-t,--threads", threads, "Compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd.add_option("-c,--ctx-size", ctx, "Context size in tokens (0 = model maximum, capped at 8192)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("-b,--batch-size", batch, "Prefill chunk size in tokens")->check(CLI::PositiveNumber);
  cmd.add_flag("--no-repack", no_repack, kNoRepackHelp);
  add_activations_option(cmd, activations);
}

void add_activations_option(CLI::App& cmd, ActivationMode& mode) {
  cmd.add_option_function<std::string>(
         "--activations",
         [&mode](const std::string& name) {
           mode = name == "int8"    ? ActivationMode::Int8
                  : name == "float" ? ActivationMode::Float
                                    : ActivationMode::Auto;
         },
         "Activations of quantized weights: int8 (quantized to int8 blocks per matmul, fastest), "
         "float (kept in f32: weight-only quantization, W4A16-style, for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; "
         "other types are an error), auto (int8 unless the GGUF sets " +
             std::string(kActivationsKey) + " = float)")
      ->transform(CLI::Validator(CLI::IsMember({"auto", "int8", "float"}, CLI::ignore_case)).description(""))
      ->type_name("{auto,int8,float}")
      ->default_str("auto");
}

LoadOptions ModelFlags::load_options() const {
  LoadOptions o;
  o.repack = !no_repack;
  o.activations = activations;
  o.threads = threads;
  return o;
}

ScorerOptions ModelFlags::scorer_options() const {
  ScorerOptions o;
  o.threads = threads;
  o.context_tokens = ctx;
  o.max_batch_tokens = batch;
  return o;
}

void SamplingFlags::add(CLI::App& cmd) {
  cmd.add_option("-n,--max-tokens", max_tokens, "Tokens to generate at most")->check(CLI::PositiveNumber);
  cmd.add_option("--temp,--temperature", temperature, "Sampling temperature (0 = greedy)");
  cmd.add_option("--top-k", top_k, "Keep the K most likely tokens (0 = off)");
  cmd.add_option("--top-p", top_p, "Nucleus sampling mass in (0, 1]");
  cmd.add_option("--min-p", min_p, "Drop tokens below min-p times the top probability");
  cmd.add_option("--repeat-penalty", repeat_penalty, "Repetition penalty (1 = off)");
  cmd.add_option("--presence-penalty", presence_penalty, "OpenAI presence penalty in [-2, 2]");
  cmd.add_option("--frequency-penalty", frequency_penalty, "OpenAI frequency penalty in [-2, 2]");
  cmd.add_option("-s,--seed", seed, "RNG seed (-1 = random)");
  cmd.add_option("--stop", stop, "Stop string (repeatable)");
  cmd.add_option("--logit-bias", logit_bias, "Token bias ID=BIAS, e.g. 13=-inf (repeatable)");
  cmd.add_flag("--ignore-eos", ignore_eos, "Keep generating past end-of-sequence tokens");
}

SamplingParams SamplingFlags::params() const {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.repetition_penalty = repeat_penalty;
  p.presence_penalty = presence_penalty;
  p.frequency_penalty = frequency_penalty;
  if (seed >= 0) p.seed = uint64_t(seed);
  p.max_tokens = max_tokens;
  p.stop = stop;
  p.ignore_eos = ignore_eos;
  for (const std::string& lb : logit_bias) {
    const auto eq = lb.find('=');
    check(eq != std::string::npos && eq > 0, "--logit-bias '" + lb + "': expected ID=BIAS");
    try {
      size_t used = 0;
      const int id = std::stoi(lb.substr(0, eq), &used);
      check(used == eq, "--logit-bias '" + lb + "': bad token id");
      const std::string b = lb.substr(eq + 1);
      float bias;
      if (b == "-inf") {
        bias = -std::numeric_limits<float>::infinity();
      } else {
        bias = std::stof(b, &used);
        check(used == b.size(), "--logit-bias '" + lb + "': bad bias");
      }
      p.logit_bias.emplace_back(id, bias);
    } catch (const std::logic_error&) {
      throw Error("--logit-bias '" + lb + "': expected ID=BIAS with an integer id and a number");
    }
  }
  return p;
}

}  // namespace tokenmill::cli
