// `tokenmill bench`: prompt-processing and generation throughput of a model on this machine
// (llama-bench layout) next to the machine's measured limits; `tokenmill bench serve` load-tests a
// server (cmd_bench_serve.cpp). The measuring lives in engine/model_bench.h.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "engine/bench_diagnosis.h"
#include "core/error.h"
#include "engine/model_bench.h"
#include "engine/model_loader.h"

namespace tokenmill::cli {

namespace {

struct BenchFlags {
  std::string model;
  ModelBenchOptions options;
  bool json = false;
  bool no_limits = false;
  bool no_repack = false;
  ActivationMode activations = ActivationMode::Auto;
};

void bench_model(const BenchFlags& f) {
  ModelBenchOptions o = f.options;
  o.measure_limits = !f.no_limits;
  validate_bench_options(o);  // before the (possibly long) model load
  std::fprintf(stderr, "bench: loading %s\n", f.model.c_str());
  LoadOptions load;
  load.repack = !f.no_repack;
  load.threads = o.threads;
  load.activations = f.activations;
  LoadedModel model = load_model(f.model, load);
  ModelBenchResult r = run_model_bench(model.config, model.weights, o, [](const std::string& line) {
    std::fprintf(stderr, "bench: %s\n", line.c_str());
  });
  r.model_path = f.model;
  const std::vector<PhaseDiagnosis> diagnosis = diagnose_bench(r);
  if (f.json) {
    nlohmann::json j = bench_to_json(r);
    j["diagnosis"] = diagnosis_to_json(diagnosis);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", format_bench_markdown(r).c_str());
    if (r.profile) std::printf("\n%s", format_bench_profile(r).c_str());
    if (!diagnosis.empty()) std::printf("\n%s", format_diagnosis(diagnosis).c_str());
  }
  std::fflush(stdout);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  ModelBenchOptions& o = f->options;
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Model throughput (pp/tg, llama-bench layout) against this machine's measured limits; "
      "`bench serve` load-tests a server");
  bench->require_subcommand(0, 1);
  f->model = default_model_path();
  bench->add_option("-m,--model", f->model,
                    "GGUF file or Hugging Face checkpoint directory (default: bundled model)");
  bench->add_option("-p,--n-prompt", o.prompt_tokens, "Prompt tokens of the pp test (0 = skip it)")
      ->capture_default_str();
  bench->add_option("-n,--n-gen", o.gen_tokens, "Generated tokens of the tg test (0 = skip it)")
      ->capture_default_str();
  bench->add_option("-t,--threads", o.threads, "Compute threads (0 = all cores)")->capture_default_str();
  bench->add_option("-r,--repetitions", o.repetitions, "Measured runs per test (after one warm-up run)")
      ->capture_default_str();
  bench->add_option("-b,--batch-size", o.batch_tokens, "Prefill chunk in tokens (tokens per forward pass)")
      ->capture_default_str();
  bench->add_flag("--json", f->json, "Print one JSON object (config, samples, mean, sd, limits, ratios)");
  bench->add_flag("--profile", o.profile, "Also run a tg pass with op timers and print time per op");
  bench->add_flag("--no-limits", f->no_limits, "Skip measuring memory bandwidth and compute peaks");
  bench->add_flag("--no-repack", f->no_repack, kNoRepackHelp);
  add_activations_option(*bench, f->activations);
  add_bench_serve_command(*bench);
  add_bench_ablate_command(*bench);
  bench->callback([f, bench] {
    if (!bench->get_subcommands().empty()) return;  // `bench serve` ran instead
    bench_model(*f);
  });
}

}  // namespace tokenmill::cli
