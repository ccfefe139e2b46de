// `tokenmill plan`: memory, fit and roofline of a model before it is loaded (src/plan/).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "core/error.h"
#include "plan/plan.h"

namespace tokenmill::cli {

namespace {

struct PlanFlags {
  std::string model;
  std::string weights = "source";
  std::string kv = "auto";
  int64_t context = 0;
  int64_t concurrency = 1;
  int64_t prompt_len = 512;
  std::string hardware = "all";
  double memory_utilization = 0.9;
  int64_t gpu_batch_tokens = 2048;
  int64_t cpu_batch_tokens = 512;
  int threads = 0;
  bool json = false;
};

void run_plan(const PlanFlags& f) {
  plan::ModelShape shape = plan::load_model_shape(f.model);
  plan::PlanSettings s;
  s.weights = plan::parse_weight_format(f.weights);
  s.context = f.context;
  s.concurrency = f.concurrency;
  s.prompt_tokens = f.prompt_len;
  s.memory_utilization = f.memory_utilization;
  check(f.gpu_batch_tokens >= 1 && f.cpu_batch_tokens >= 1, "batch tokens must be >= 1");
  s.gpu_batch_tokens = f.gpu_batch_tokens;
  s.cpu_batch_tokens = f.cpu_batch_tokens;
  check(f.context >= 0, "--context must be >= 0 (0: the model's context)");
  // "auto": the 16-bit type GPU engines use by default, and tokenmill's own f32 on this machine.
  s.kv = plan::parse_kv_format(f.kv == "auto" ? "bf16" : f.kv);
  s.kv_cpu = plan::parse_kv_format(f.kv == "auto" ? "f32" : f.kv);
  const std::vector<plan::Hardware> hw = plan::select_hardware(f.hardware, f.threads);
  const plan::Plan p = plan::make_plan(std::move(shape), s, hw);
  if (f.json)
    std::printf("%s\n", plan::plan_to_json(p).dump(2).c_str());
  else
    std::printf("%s", plan::format_plan(p).c_str());
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto f = std::make_shared<PlanFlags>();
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "Predict a model's memory (weights, KV cache, activations, runtime), where it fits and its roofline "
      "prefill / decode speed, before loading it");
  cmd->add_option("-m,--model", f->model,
                  "GGUF file, Hugging Face directory or config.json, or a preset: " + [] {
                    std::string names;
                    for (const std::string& n : plan::preset_names()) names += (names.empty() ? "" : ", ") + n;
                    return names;
                  }())
      ->required();
  cmd->add_option("--weights-dtype,--quant", f->weights,
                  "Weight format to plan for: " + plan::weight_format_names() + " (default: source, as stored)");
  cmd->add_option("--kv-dtype", f->kv,
                  "KV cache format: " + plan::kv_format_names() +
                      " (default auto: bf16 on GPUs, f32 (tokenmill's) on this machine)");
  cmd->add_option("--context", f->context, "Tokens per sequence (default: the model's context length)");
  cmd->add_option("--concurrency", f->concurrency, "Sequences at once (default 1)");
  cmd->add_option("--prompt-len", f->prompt_len, "Prompt tokens of the prefill estimate (default 512)");
  cmd->add_option("--hardware", f->hardware,
                  "Devices: all (default), this (this machine, measured), or comma-separated names: A100-40GB, "
                  "A100-80GB, H100-SXM, H100-PCIe, H200, B200, L40S, L4, RTX-4090, MI300X");
  cmd->add_option("--memory-utilization", f->memory_utilization,
                  "Share of each device's memory the engine may use (default 0.9)");
  cmd->add_option("--gpu-batch-tokens", f->gpu_batch_tokens,
                  "Tokens per step a GPU engine sizes its activations for (default 2048)");
  cmd->add_option("--max-num-batched-tokens", f->cpu_batch_tokens,
                  "tokenmill's tokens per step on this machine (default 512, as serve)");
  cmd->add_option("-t,--threads", f->threads, "Threads of this machine's probes (default: all cores)");
  cmd->add_flag("--json", f->json, "Print the plan as JSON");
  cmd->callback([f] { run_plan(*f); });
}

}  // namespace tokenmill::cli
