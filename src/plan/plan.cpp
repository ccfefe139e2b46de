#include "plan/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/dtype.h"
#include "core/error.h"
#include "formats/ggml_types.h"
#include "kernels/ops.h"
#include "plan/units.h"

namespace tokenmill::plan {
namespace {

int64_t round_up(int64_t n, int64_t block) { return (n + block - 1) / block * block; }

// Widest intermediate activation of a layer: the dense MLP, or the experts a token runs.
int64_t ffn_width(const ModelShape& s) {
  int64_t w = 0;
  for (const PlanTensor& t : s.tensors)
    if (t.role == TensorRole::Ffn) w = s.ffn_dim;
  if (s.is_moe()) w = std::max(w, s.moe.n_active * s.moe.expert_ffn + s.moe.shared_ffn);
  return w;
}

int64_t q_width(const ModelShape& s) {
  return s.is_mla ? s.n_heads * (s.mla.qk_nope_head_dim + s.mla.qk_rope_head_dim) : s.n_heads * s.head_dim;
}
int64_t kv_width(const ModelShape& s) {
  return s.is_mla ? s.mla.kv_lora_rank + s.mla.qk_rope_head_dim : s.n_kv_heads * s.head_dim;
}

// tokenmill's int8 activation scratch (kernels::matmul_scratch_bytes) for the widest quantized
// matrix input, in the weight format's types (0 when every matrix is a float type).
double cpu_matmul_scratch(const ModelShape& s, const WeightBytes& wb, int64_t tokens) {
  double most = 0;
  for (size_t i = 0; i < s.tensors.size() && i < wb.types.size(); ++i) {
    const PlanTensor& t = s.tensors[i];
    if (t.ne.size() != 2 || t.role == TensorRole::Embedding) continue;
    DType d;
    if (!dtype_from_name(ggml_type_name(wb.types[i]), d) || !dtype_is_quantized(d)) continue;
    if (size_t(t.ne[0]) % dtype_block_elements(d) != 0) continue;
    most = std::max(most, double(kernels::matmul_scratch_bytes(d, size_t(tokens), size_t(t.ne[0]))));
  }
  return most;
}

}  // namespace

MemoryPlan plan_memory(const ModelShape& shape, const WeightBytes& wb, const PlanSettings& s, EngineProfile profile) {
  MemoryPlan m;
  m.profile = profile;
  const ParamCounts params = count_params(shape);
  m.weights = wb.total;
  m.lines.push_back({"weights",
                     "sum over " + std::to_string(shape.tensors.size()) + " tensors of elements x bits/8 = " +
                         count(params.total) + " params x " + fixed(wb.bits_per_weight(params.total), 3) +
                         " bits / 8",
                     m.weights});

  const KvFormat& kv = kv_format_for(s, profile);
  const int64_t per_layer = shape.kv_values_per_token_layer();
  m.kv_per_token = double(shape.n_layers) * double(per_layer) * kv.bytes_per_value;
  const std::string values =
      shape.is_mla ? "(" + std::to_string(shape.mla.kv_lora_rank) + " latent + " +
                         std::to_string(shape.mla.qk_rope_head_dim) + " rope) values"
                   : "2 (K,V) x " + std::to_string(shape.n_kv_heads) + " kv heads x " +
                         std::to_string(shape.head_dim) + " dims";
  m.lines.push_back({"KV cache per token",
                     values + " x " + std::to_string(shape.n_layers) + " layers x " + fixed(kv.bytes_per_value, 4) +
                         " B (" + kv.name + ")",
                     m.kv_per_token});

  const int64_t ctx_tokens = round_up(s.context, s.block_size);
  m.kv_total = m.kv_per_token * double(ctx_tokens) * double(s.concurrency);
  m.lines.push_back({"KV cache",
                     bytes_exact(m.kv_per_token) + " x " + std::to_string(ctx_tokens) + " tokens (" +
                         std::to_string(s.context) + " in blocks of " + std::to_string(s.block_size) + ") x " +
                         std::to_string(s.concurrency) + " sequences",
                     m.kv_total});

  const bool cpu = profile == EngineProfile::TokenmillCpu;
  const int64_t T = cpu ? s.cpu_batch_tokens : s.gpu_batch_tokens;
  const double act_bytes = cpu ? 4.0 : 2.0;
  const int64_t row = 3 * shape.dim + 2 * q_width(shape) + 2 * kv_width(shape) + 2 * ffn_width(shape);
  const double logits = double(s.concurrency) * double(shape.vocab_size) * 4.0;
  const double scratch = cpu ? cpu_matmul_scratch(shape, wb, T) : 0.0;
  // tokenmill also keeps one sequence's slot list (int32 per position of the context).
  const double slots = cpu ? 4.0 * double(shape.max_context) : 0.0;
  m.activations = double(T) * double(row) * act_bytes + logits + scratch + slots;
  std::string formula = std::to_string(T) + " tokens/step x (3 x " + std::to_string(shape.dim) + " + 2 x " +
                        std::to_string(q_width(shape)) + " + 2 x " + std::to_string(kv_width(shape)) + " + 2 x " +
                        std::to_string(ffn_width(shape)) + ") x " + fixed(act_bytes, 0) + " B + logits " +
                        std::to_string(s.concurrency) + " x " + std::to_string(shape.vocab_size) + " x 4 B";
  if (scratch > 0) formula += " + int8 activation blocks " + bytes_exact(scratch);
  if (slots > 0) formula += " + slots " + std::to_string(shape.max_context) + " x 4 B";
  m.lines.push_back({"activations", formula, m.activations});

  m.runtime = cpu ? s.cpu_runtime_bytes : s.gpu_runtime_bytes;
  m.lines.push_back({"runtime",
                     cpu ? "tokenmill process: code, libraries, tokenizer, heap (measured, docs/plan.md)"
                         : "CUDA context, kernels' libraries and workspaces, allocator slack (assumed)",
                     m.runtime});
  m.lines.push_back({"total", "weights + KV cache + activations + runtime", m.total()});
  return m;
}

Fit plan_fit(const ModelShape& shape, const MemoryPlan& m, const Hardware& hw, const PlanSettings& s) {
  Fit f;
  f.usable_bytes = hw.available_bytes * s.memory_utilization;
  const double fixed_per_device = m.activations + m.runtime;
  for (int n : {1, 2, 4, 8}) {
    if (hw.is_cpu && n > 1) break;
    if (m.weights / n + fixed_per_device < f.usable_bytes) {
      f.devices = n;
      break;
    }
  }
  if (f.devices == 0) {
    f.shortfall_bytes = m.weights / (hw.is_cpu ? 1 : 8) + fixed_per_device - f.usable_bytes;
    return f;
  }
  f.kv_budget_bytes = (f.usable_bytes - m.weights / f.devices - fixed_per_device) * f.devices;
  const double seq_bytes = m.kv_per_token * double(round_up(s.context, s.block_size));
  f.max_concurrency = seq_bytes > 0 ? int64_t(f.kv_budget_bytes / seq_bytes) : 0;
  const double tokens = m.kv_per_token > 0 ? f.kv_budget_bytes / m.kv_per_token / double(s.concurrency) : 0;
  f.max_context = std::min<int64_t>(shape.max_context, int64_t(tokens) / s.block_size * s.block_size);
  f.fits = f.max_concurrency >= s.concurrency;
  return f;
}

Roofline plan_roofline(const ModelShape& shape, const ParamCounts& params, const WeightBytes& wb,
                       const KvFormat& kv, const PlanSettings& s, const Hardware& hw, int devices) {
  Roofline r;
  r.devices = std::max(1, devices);
  const double bw = hw.bandwidth * r.devices;
  r.peak = hw.peak(wb.compute) * r.devices;
  r.peak_used = hw.peak_name(wb.compute);
  // Parameters a token multiplies with: every active one but the embedding lookup (a tied
  // embedding is also the LM head, so it is multiplied with).
  const double matmul_params = params.active - (shape.tied_embeddings ? 0.0 : params.embedding);
  const double head_params = double(shape.vocab_size) * double(shape.dim);
  auto touched = [&](double tokens) {
    if (!shape.is_moe()) return 1.0;
    const double k = double(shape.moe.n_active), e = double(shape.moe.n_experts);
    return 1.0 - std::pow(1.0 - k / e, tokens);
  };
  // Bytes read once per step: layers, touched experts, head (the embedding when tied), token rows.
  auto weight_reads = [&](double tokens, double share) {
    return wb.layers_dense + wb.experts * share + (shape.tied_embeddings ? wb.embedding : wb.output) +
           wb.embedding_row * tokens;
  };
  const double L = double(shape.n_layers);

  // Decode: B sequences, each attending over `context` cached tokens.
  const double B = double(s.concurrency), N = double(s.context);
  r.experts_touched = touched(B);
  const double kv_per_token = double(shape.n_layers) * double(shape.kv_values_per_token_layer()) * kv.bytes_per_value;
  r.decode_bytes = weight_reads(B, r.experts_touched) + B * N * kv_per_token;
  r.decode_flops = 2.0 * B * matmul_params + 2.0 * B * N * L * double(shape.attn_qk_dim() + shape.attn_v_dim());
  const double t_mem = r.decode_bytes / bw, t_comp = r.decode_flops / r.peak;
  r.decode_memory_bound = t_mem >= t_comp;
  r.decode_tokens_per_s = B / std::max(t_mem, t_comp);

  // Prefill: one prompt of P tokens, causal attention (P^2 / 2 query-key pairs per head), logits
  // of the last token only; MLA prefill runs expanded (per head qk_nope + qk_rope and v_head dims).
  const double P = double(s.prompt_tokens);
  const double qk = shape.is_mla ? double(shape.n_heads * (shape.mla.qk_nope_head_dim + shape.mla.qk_rope_head_dim))
                                 : double(shape.n_heads * shape.head_dim);
  const double v = shape.is_mla ? double(shape.n_heads * shape.mla.v_head_dim) : double(shape.n_heads * shape.head_dim);
  r.prefill_bytes = weight_reads(P, touched(P)) + P * kv_per_token;
  r.prefill_flops = 2.0 * P * (matmul_params - head_params) + 2.0 * head_params + 2.0 * L * (P * P / 2) * (qk + v);
  const double p_mem = r.prefill_bytes / bw, p_comp = r.prefill_flops / r.peak;
  r.prefill_memory_bound = p_mem >= p_comp;
  r.prefill_tokens_per_s = P / std::max(p_mem, p_comp);
  return r;
}

Plan make_plan(ModelShape shape, PlanSettings settings, const std::vector<Hardware>& hardware) {
  if (settings.context <= 0) settings.context = shape.max_context;
  check(settings.concurrency >= 1, "--concurrency must be >= 1");
  check(settings.prompt_tokens >= 1, "--prompt-len must be >= 1");
  check(settings.block_size >= 1, "the KV block size must be >= 1");
  check(settings.memory_utilization > 0 && settings.memory_utilization <= 1, "--memory-utilization must be in (0, 1]");
  if (settings.context > shape.max_context)
    throw Error("--context " + std::to_string(settings.context) + " exceeds the model's " +
                std::to_string(shape.max_context) + " tokens");
  Plan p;
  p.params = count_params(shape);
  p.weight_bytes = weight_bytes(shape, settings.weights);
  for (const Hardware& hw : hardware) {
    HardwarePlan d;
    d.hardware = hw;
    const EngineProfile profile = hw.is_cpu ? EngineProfile::TokenmillCpu : EngineProfile::Gpu;
    d.memory = plan_memory(shape, p.weight_bytes, settings, profile);
    d.fit = plan_fit(shape, d.memory, hw, settings);
    // A model that fits nowhere is estimated on as many devices as tensor parallelism takes here.
    const int devices = d.fit.devices > 0 ? d.fit.devices : hw.is_cpu ? 1 : 8;
    d.roofline = plan_roofline(shape, p.params, p.weight_bytes, kv_format_for(settings, profile), settings, hw, devices);
    p.devices.push_back(std::move(d));
  }
  p.shape = std::move(shape);
  p.settings = std::move(settings);
  return p;
}

}  // namespace tokenmill::plan
