// `tokenmill plan`: predicts, before anything is loaded, what a model needs and what it can do —
// memory (weights, KV cache, activations, runtime) with each formula filled in, where it fits and
// how many sequences x tokens fit there, and roofline estimates of prefill and decode speed with
// the bound that applies. MoE models count active parameters for compute and the experts a step
// actually touches for bytes moved; their memory holds every expert.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plan/hardware.h"
#include "plan/model_shape.h"
#include "plan/number_formats.h"

namespace tokenmill::plan {

// Who runs the model: a GPU serving engine (vLLM-like: 16-bit activations, a CUDA runtime) or
// tokenmill on this CPU (f32 activations, its own buffers, computed exactly as it allocates them).
enum class EngineProfile { Gpu, TokenmillCpu };

struct PlanSettings {
  WeightFormat weights;               // default: as stored
  KvFormat kv{"bf16", 2.0};           // of a GPU engine
  KvFormat kv_cpu{"f32", 4.0};        // of tokenmill on this machine (it stores f32)
  int64_t context = 0;                // tokens per sequence (prompt + output)
  int64_t concurrency = 1;            // sequences at once
  int64_t prompt_tokens = 512;        // prompt length of the prefill estimate
  int64_t block_size = 16;            // KV block (tokens); each sequence takes whole blocks
  int64_t gpu_batch_tokens = 2048;    // tokens per step a GPU engine sizes activations for
  int64_t cpu_batch_tokens = 512;     // tokenmill's --max-num-batched-tokens
  double memory_utilization = 0.9;    // share of a device's memory the engine may take
  double gpu_runtime_bytes = 1.0 * (1 << 30);  // CUDA context, libraries, allocator slack
  double cpu_runtime_bytes = 16.0 * (1 << 20); // code, libraries, tokenizer, heap: RSS minus the rest
};

struct MemoryLine {
  std::string name;
  std::string formula;  // with the numbers filled in
  double bytes = 0;
};

inline const KvFormat& kv_format_for(const PlanSettings& s, EngineProfile p) {
  return p == EngineProfile::Gpu ? s.kv : s.kv_cpu;
}

struct MemoryPlan {
  EngineProfile profile = EngineProfile::Gpu;
  double weights = 0, kv_per_token = 0, kv_total = 0, activations = 0, runtime = 0;
  double total() const { return weights + kv_total + activations + runtime; }
  std::vector<MemoryLine> lines;
};

struct Fit {
  double usable_bytes = 0;        // per device
  int devices = 0;                // 0: does not fit even on 8; else 1, 2, 4 or 8 (tensor parallel)
  bool fits = false;              // `devices` hold the requested concurrency x context
  int64_t max_concurrency = 0;    // sequences of `context` tokens the KV budget holds
  int64_t max_context = 0;        // tokens per sequence at `concurrency` (capped at the model's)
  double kv_budget_bytes = 0;     // over all devices
  double shortfall_bytes = 0;     // on one device, when nothing fits
};

struct Roofline {
  int devices = 1;                // ideal tensor-parallel scaling over this many (no communication)
  // Decode: one step for `concurrency` sequences, each with `context` tokens cached.
  double decode_bytes = 0, decode_flops = 0, decode_tokens_per_s = 0;
  bool decode_memory_bound = true;
  double experts_touched = 0;     // share of routed experts a decode step reads (MoE)
  // Prefill of one prompt of `prompt_tokens`.
  double prefill_bytes = 0, prefill_flops = 0, prefill_tokens_per_s = 0;
  bool prefill_memory_bound = false;
  std::string peak_used;          // which peak the compute term used
  double peak = 0;
};

struct HardwarePlan {
  Hardware hardware;
  MemoryPlan memory;
  Fit fit;
  Roofline roofline;
};

struct Plan {
  ModelShape shape;
  ParamCounts params;
  WeightBytes weight_bytes;
  PlanSettings settings;
  std::vector<HardwarePlan> devices;
};

MemoryPlan plan_memory(const ModelShape& shape, const WeightBytes& wb, const PlanSettings& s, EngineProfile profile);
Fit plan_fit(const ModelShape& shape, const MemoryPlan& m, const Hardware& hw, const PlanSettings& s);
Roofline plan_roofline(const ModelShape& shape, const ParamCounts& params, const WeightBytes& wb,
                       const KvFormat& kv, const PlanSettings& s, const Hardware& hw, int devices);
// Everything, for each device. settings.context 0 means the model's context.
Plan make_plan(ModelShape shape, PlanSettings settings, const std::vector<Hardware>& hardware);

std::string format_plan(const Plan& plan);
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace tokenmill::plan
