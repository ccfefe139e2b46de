#include "engine/bench_diagnosis.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace tokenmill {
namespace {

constexpr double kBoundThreshold = 0.35;  // of a roof: below it on both, the phase is overhead-bound
constexpr double kOpRoofThreshold = 0.5;  // a matmul op at half its roof or more is bound by it

std::string pct(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100 * f);
  return buf;
}

bool is_matmul(OpKind k) {
  return k == OpKind::MatmulQkv || k == OpKind::MatmulOut || k == OpKind::MatmulGateUp || k == OpKind::MatmulDown ||
         k == OpKind::LmHead;
}

// Ops by time with their roof fraction; returns the share of time outside matmuls and attention.
double attribute_ops(const BenchProfile& p, const ModelWork& w, bool decode, double bw, double peak,
                     std::vector<OpDiagnosis>& ops) {
  const double wall = p.wall_seconds > 0 ? p.wall_seconds : p.ops.total_seconds();
  if (wall <= 0) return -1;
  double work_s = 0;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    if (p.ops.calls[k] == 0) continue;
    const OpKind kind = OpKind(k);
    OpDiagnosis d;
    d.op = std::string(op_kind_name(kind));
    d.share = p.ops.seconds[k] / wall;
    const double s = p.ops.seconds[k];
    if (is_matmul(kind) && s > 0) {
      // Decode: weight bytes each token reads; prefill: matmul ops of the tokens (the LM head once).
      const double tokens = kind == OpKind::LmHead && !decode ? 1.0 : double(p.tokens);
      d.roof_fraction = decode ? w.decode_bytes_by_op[k] * tokens / s / bw : w.matmul_ops_by_op[k] * tokens / s / peak;
      d.bound = d.roof_fraction >= kOpRoofThreshold ? (decode ? "memory" : "compute") : "below roof";
      work_s += s;
    } else if (kind == OpKind::Attention) {
      d.bound = decode ? "memory (KV cache reads)" : "compute (scores)";
      work_s += s;
    } else {
      d.bound = "overhead";
    }
    ops.push_back(std::move(d));
  }
  std::stable_sort(ops.begin(), ops.end(), [](const OpDiagnosis& a, const OpDiagnosis& b) { return a.share > b.share; });
  return std::max(0.0, 1.0 - work_s / wall);
}

std::string advise(const PhaseDiagnosis& d, const ModelBenchResult& r) {
  const bool quantized = !r.work.float_weights;
  if (d.phase == "decode") {
    switch (d.bound) {
      case Bound::Memory:
        if (d.bandwidth_fraction > 1.0)
          return "decode reads its weights faster than memory delivers (" + pct(d.bandwidth_fraction) +
                 " of read bandwidth): they are served from the CPU caches; a model larger than the caches "
                 "will be memory-bound";
        return "decode is memory-bound at " + pct(d.bandwidth_fraction) + " of read bandwidth: " +
               (quantized ? "fewer bits per weight (a smaller quantization type)" : "quantize the weights (Q8_0 halves the bytes, Q4_0 quarters them)") +
               " or batch more requests (one weight read serves every sequence of a step)";
      case Bound::Compute:
        return "decode is compute-bound at " + pct(d.compute_fraction) + " of the " + d.peak_name +
               " peak: more cores or a lower-precision compute path help; larger batches do not";
      case Bound::Overhead:
        return "decode is overhead-bound (" + pct(d.bandwidth_fraction) + " of bandwidth, " + pct(d.compute_fraction) +
               " of the " + d.peak_name + " peak)" +
               (d.overhead_share >= 0 ? ", " + pct(d.overhead_share) + " of its time outside the matmuls" : "") +
               ": the model is small for this machine; batch more sequences per step or use fewer threads";
    }
  }
  switch (d.bound) {
    case Bound::Compute:
      return "prefill is compute-bound at " + pct(d.compute_fraction) + " of the " + d.peak_name + " peak: " +
             (quantized ? "faster int8 kernels (AMX, wider tiles) or more cores"
                        : "quantize the weights (Q8_0 / Q4_0) so prefill runs on the int8 dot-product units");
    case Bound::Memory:
      return "prefill is memory-bound at " + pct(d.bandwidth_fraction) +
             " of read bandwidth: the prompts are short; batch prompts together (--batch-size)";
    case Bound::Overhead:
      return "prefill is overhead-bound (" + pct(d.compute_fraction) + " of the " + d.peak_name + " peak)" +
             (d.overhead_share >= 0 ? ", " + pct(d.overhead_share) + " of its time outside the matmuls" : "") +
             ": larger chunks per step (--batch-size) or faster kernels for the small ops";
  }
  return "";
}

Bound classify(double bandwidth_fraction, double compute_fraction) {
  if (std::max(bandwidth_fraction, compute_fraction) < kBoundThreshold) return Bound::Overhead;
  return bandwidth_fraction >= compute_fraction ? Bound::Memory : Bound::Compute;
}

}  // namespace

PhaseDiagnosis diagnose_serving(const ServingProfile& p, const ModelWork& w, const kernels::MachineLimits& limits,
                                bool int8) {
  PhaseDiagnosis d;
  d.phase = "serving";
  d.peak_name = int8 ? "int8" : "f32";
  const double bw = limits.read_bw_gbs * 1e9, peak = (int8 ? limits.int8_gops : limits.f32_gflops) * 1e9;
  if (p.busy_seconds <= 0 || bw <= 0 || peak <= 0) {
    d.advice = "no steps profiled yet";
    return d;
  }
  const double weight_bytes = w.decode_bytes_per_token;  // read once per step whatever its tokens
  d.bandwidth_fraction = double(p.steps) * weight_bytes / p.busy_seconds / bw;
  d.compute_fraction = double(p.tokens) * 2.0 * double(w.layer_matmul_params + w.lm_head_params) / p.busy_seconds / peak;
  d.bound = classify(d.bandwidth_fraction, d.compute_fraction);
  double work_s = 0;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    if (p.ops.calls[k] == 0) continue;
    const OpKind kind = OpKind(k);
    const double s = p.ops.seconds[k];
    OpDiagnosis o;
    o.op = std::string(op_kind_name(kind));
    o.share = s / p.busy_seconds;
    if (is_matmul(kind) && s > 0) {
      const double mem = w.decode_bytes_by_op[k] * double(p.steps) / s / bw;
      const double tokens = kind == OpKind::LmHead ? double(p.steps) : double(p.tokens);  // logits rows ~ steps
      const double comp = w.matmul_ops_by_op[k] * tokens / s / peak;
      o.roof_fraction = std::max(mem, comp);
      o.bound = o.roof_fraction < kOpRoofThreshold ? "below roof" : mem >= comp ? "memory" : "compute";
      work_s += s;
    } else if (kind == OpKind::Attention) {
      o.bound = "attention";
      work_s += s;
    } else {
      o.bound = "overhead";
    }
    d.ops.push_back(std::move(o));
  }
  std::stable_sort(d.ops.begin(), d.ops.end(), [](const OpDiagnosis& a, const OpDiagnosis& b) { return a.share > b.share; });
  d.overhead_share = std::max(0.0, 1.0 - work_s / p.busy_seconds);
  const double tokens_per_step = double(p.tokens) / double(std::max<uint64_t>(p.steps, 1));
  char buf[96];
  std::snprintf(buf, sizeof buf, " (%.1f tokens per step on average)", tokens_per_step);
  switch (d.bound) {
    case Bound::Memory:
      d.advice = "serving is memory-bound at " + pct(d.bandwidth_fraction) + " of read bandwidth" + buf +
                 ": more concurrent requests per step (--max-num-seqs) or fewer bits per weight";
      break;
    case Bound::Compute:
      d.advice = "serving is compute-bound at " + pct(d.compute_fraction) + " of the " + d.peak_name + " peak" + buf +
                 ": int8 weights/activations or more cores; larger batches no longer help";
      break;
    case Bound::Overhead:
      d.advice = "serving is overhead-bound (" + pct(d.bandwidth_fraction) + " of bandwidth, " +
                 pct(d.compute_fraction) + " of the " + d.peak_name + " peak)" + buf +
                 ": steps are small or idle-heavy; batch more requests per step";
      break;
  }
  return d;
}

const char* bound_name(Bound b) {
  switch (b) {
    case Bound::Memory: return "memory-bound";
    case Bound::Compute: return "compute-bound";
    case Bound::Overhead: return "overhead-bound";
  }
  return "?";
}

std::vector<PhaseDiagnosis> diagnose_bench(const ModelBenchResult& r) {
  std::vector<PhaseDiagnosis> out;
  if (!r.limits || r.limits->read_bw_gbs <= 0) return out;
  const double bw = r.limits->read_bw_gbs * 1e9;
  const bool int8 = !r.work.float_weights && r.activations.int8_matrices > 0;
  const double peak = (int8 ? r.limits->int8_gops : r.limits->f32_gflops) * 1e9;
  if (peak <= 0) return out;
  for (const BenchTestResult& t : r.tests) {
    if (t.tps.mean <= 0) continue;
    PhaseDiagnosis d;
    d.phase = t.prefill ? "prefill" : "decode";
    d.peak_name = int8 ? "int8" : "f32";
    if (t.prefill) {
      d.compute_fraction = t.work_per_s / peak;
      d.bandwidth_fraction = double(r.work.size_bytes) * t.tps.mean / double(std::max(t.n_tokens, 1)) / bw;
    } else {
      d.bandwidth_fraction = t.work_per_s / bw;
      d.compute_fraction = 2.0 * double(r.work.layer_matmul_params + r.work.lm_head_params) * t.tps.mean / peak;
    }
    d.bound = classify(d.bandwidth_fraction, d.compute_fraction);
    const std::optional<BenchProfile>& p = t.prefill ? r.prefill_profile : r.profile;
    if (p) d.overhead_share = attribute_ops(*p, r.work, !t.prefill, bw, peak, d.ops);
    d.advice = advise(d, r);
    out.push_back(std::move(d));
  }
  return out;
}

std::string format_diagnosis(const std::vector<PhaseDiagnosis>& diag) {
  std::string out;
  for (const PhaseDiagnosis& d : diag) {
    out += "diagnosis: " + d.phase + " is " + bound_name(d.bound) + " (" + pct(d.bandwidth_fraction) +
           " of read bandwidth, " + pct(d.compute_fraction) + " of the " + d.peak_name + " peak" +
           (d.overhead_share >= 0 ? ", " + pct(d.overhead_share) + " outside matmuls" : "") + ")\n";
    for (const OpDiagnosis& o : d.ops) {
      if (o.share < 0.01) continue;
      out += "  " + o.op + ": " + pct(o.share) + " of the time, " + o.bound;
      if (o.roof_fraction >= 0) out += " (" + pct(o.roof_fraction) + (d.phase == "decode" ? " of bandwidth)" : " of peak)");
      out += "\n";
    }
    out += "  -> " + d.advice + "\n";
  }
  return out;
}

nlohmann::json diagnosis_to_json(const std::vector<PhaseDiagnosis>& diag) {
  nlohmann::json out = nlohmann::json::array();
  for (const PhaseDiagnosis& d : diag) {
    nlohmann::json ops = nlohmann::json::array();
    for (const OpDiagnosis& o : d.ops)
      ops.push_back({{"op", o.op}, {"share", o.share}, {"roof_fraction", o.roof_fraction}, {"bound", o.bound}});
    out.push_back({{"phase", d.phase},
                   {"bound", bound_name(d.bound)},
                   {"bandwidth_fraction", d.bandwidth_fraction},
                   {"compute_fraction", d.compute_fraction},
                   {"peak", d.peak_name},
                   {"overhead_share", d.overhead_share},
                   {"ops", ops},
                   {"advice", d.advice}});
  }
  return out;
}

}  // namespace tokenmill
