// `tokenmill plan` output: the text tables and the JSON document.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "plan/plan.h"
#include "plan/units.h"

namespace tokenmill::plan {
namespace {

std::string pad(const std::string& s, size_t width) { return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' '); }
std::string lpad(const std::string& s, size_t width) { return s.size() >= width ? " " + s : std::string(width - s.size(), ' ') + s; }

const char* profile_title(EngineProfile p) {
  return p == EngineProfile::Gpu ? "a GPU serving engine (16-bit activations)" : "tokenmill on this machine (f32 activations)";
}

std::string describe_model(const Plan& p) {
  const ModelShape& s = p.shape;
  std::ostringstream o;
  o << s.name << " (" << s.source << "): " << s.family << ", " << count(p.params.total) << " parameters";
  if (s.is_moe())
    o << " (" << count(p.params.active) << " active: " << s.moe.n_active << " of " << s.moe.n_experts << " experts"
      << (s.moe.shared_ffn > 0 ? " + shared" : "") << ")";
  o << ", " << s.n_layers << " layers, dim " << s.dim << ", ";
  if (s.is_mla)
    o << s.n_heads << " heads with MLA (KV latent " << s.mla.kv_lora_rank << " + rope " << s.mla.qk_rope_head_dim << ")";
  else
    o << s.n_heads << " heads / " << s.n_kv_heads << " KV heads x " << s.head_dim;
  o << ", vocab " << s.vocab_size << ", context " << s.max_context;
  return o.str();
}

std::string type_mix(const WeightBytes& wb) {
  std::string out;
  for (const auto& [type, n] : wb.type_counts) out += (out.empty() ? "" : ", ") + type + " x " + std::to_string(n);
  return out;
}

// The lines of m; with `first`, only those that differ from it.
void memory_table(std::ostringstream& o, const MemoryPlan& m, const MemoryPlan* first) {
  o << "memory, " << profile_title(m.profile) << "\n";
  for (size_t i = 0; i < m.lines.size(); ++i) {
    const MemoryLine& l = m.lines[i];
    if (first && i < first->lines.size() && first->lines[i].formula == l.formula) continue;
    o << "  " << pad(l.name, 20) << lpad(bytes_human(l.bytes), 11) << "   " << l.formula << "\n";
  }
}

}  // namespace

std::string format_plan(const Plan& p) {
  std::ostringstream o;
  const PlanSettings& st = p.settings;
  o << "model      " << describe_model(p) << "\n";
  o << "weights    " << st.weights.name << ": " << st.weights.how << "; " << fixed(p.weight_bytes.bits_per_weight(p.params.total), 3)
    << " bits/weight (" << type_mix(p.weight_bytes) << ")\n";
  o << "settings   " << st.concurrency << " sequence(s) x " << st.context << " tokens, KV cache " << st.kv.name
    << (st.kv_cpu.name != st.kv.name ? " (tokenmill on this machine: " + st.kv_cpu.name + ")" : "")
    << ", prefill of a " << st.prompt_tokens << "-token prompt\n\n";

  // Memory: the full table for the first engine profile, the lines that differ for the other.
  const MemoryPlan* first = nullptr;
  bool shown_gpu = false, shown_cpu = false;
  for (const HardwarePlan& d : p.devices) {
    bool& shown = d.memory.profile == EngineProfile::Gpu ? shown_gpu : shown_cpu;
    if (shown) continue;
    memory_table(o, d.memory, first);
    if (!first) first = &d.memory;
    shown = true;
  }

  o << "\nfit: " << fixed(st.memory_utilization * 100, 0)
    << "% of each device's memory (this machine: of MemAvailable), tensor parallel over up to 8 GPUs\n";
  o << "  " << pad("device", 11) << lpad("memory", 10) << lpad("usable", 10) << lpad("devices", 9) << lpad("KV budget", 11)
    << lpad("max seqs @" + std::to_string(st.context), 18) << lpad("max ctx @" + std::to_string(st.concurrency), 14)
    << "  fits\n";
  for (const HardwarePlan& d : p.devices) {
    const Fit& f = d.fit;
    o << "  " << pad(d.hardware.name, 11) << lpad(bytes_human(d.hardware.memory_bytes), 10)
      << lpad(bytes_human(f.usable_bytes), 10);
    if (f.devices == 0) {
      o << lpad("-", 9) << lpad("-", 11) << lpad("-", 18) << lpad("-", 14) << "  no: " << bytes_human(f.shortfall_bytes)
        << " short " << (d.hardware.is_cpu ? "" : "even on 8") << "\n";
      continue;
    }
    o << lpad(std::to_string(f.devices), 9) << lpad(bytes_human(f.kv_budget_bytes), 11)
      << lpad(std::to_string(f.max_concurrency), 18) << lpad(std::to_string(f.max_context), 14) << "  "
      << (f.fits ? "yes" : "no: KV cache too small for " + std::to_string(st.concurrency) + " x " + std::to_string(st.context))
      << "\n";
  }

  o << "\nroofline: decode of " << st.concurrency << " sequence(s) at " << st.context << " cached tokens, prefill of "
    << st.prompt_tokens << " tokens; upper bounds at 100% of bandwidth and peak\n";
  o << "  " << pad("device", 11) << lpad("decode tok/s", 14) << "  " << pad("bound", 8) << lpad("prefill tok/s", 15)
    << "  " << pad("bound", 8) << " peak used\n";
  for (const HardwarePlan& d : p.devices) {
    const Roofline& r = d.roofline;
    o << "  " << pad(d.hardware.name + (r.devices > 1 ? " x" + std::to_string(r.devices) : ""), 11)
      << lpad(rate(r.decode_tokens_per_s), 14) << "  " << pad(r.decode_memory_bound ? "memory" : "compute", 8)
      << lpad(rate(r.prefill_tokens_per_s), 15) << "  " << pad(r.prefill_memory_bound ? "memory" : "compute", 8) << " "
      << r.peak_used << " " << (r.peak >= 1e12 ? fixed(r.peak / 1e12, 1) + " T" : fixed(r.peak / 1e9, 0) + " G")
      << "op/s" << (d.fit.devices == 0 ? "  (does not fit)" : "") << "\n";
  }
  if (p.shape.is_moe() && !p.devices.empty())
    o << "  MoE: a decode step of " << st.concurrency << " token(s) reads "
      << fixed(100 * p.devices.front().roofline.experts_touched, 1)
      << "% of the routed experts (uniform routing); compute counts the " << count(p.params.active)
      << " active parameters\n";
  return o.str();
}

nlohmann::json plan_to_json(const Plan& p) {
  using nlohmann::json;
  const ModelShape& s = p.shape;
  json j;
  j["model"] = {{"name", s.name},
                {"source", s.source},
                {"family", s.family},
                {"params_total", p.params.total},
                {"params_active", p.params.active},
                {"layers", s.n_layers},
                {"dim", s.dim},
                {"heads", s.n_heads},
                {"kv_heads", s.n_kv_heads},
                {"head_dim", s.head_dim},
                {"vocab_size", s.vocab_size},
                {"max_context", s.max_context},
                {"mla", s.is_mla},
                {"experts", s.moe.n_experts},
                {"experts_per_token", s.moe.n_active}};
  const WeightBytes& wb = p.weight_bytes;
  j["weights"] = {{"format", p.settings.weights.name},
                  {"bytes", wb.total},
                  {"bits_per_weight", wb.bits_per_weight(p.params.total)},
                  {"embedding_bytes", wb.embedding},
                  {"output_bytes", wb.output},
                  {"expert_bytes", wb.experts},
                  {"compute", compute_class_name(wb.compute)},
                  {"types", wb.type_counts}};
  j["settings"] = {{"context", p.settings.context},
                   {"concurrency", p.settings.concurrency},
                   {"prompt_tokens", p.settings.prompt_tokens},
                   {"kv_dtype", p.settings.kv.name},
                   {"kv_dtype_this_machine", p.settings.kv_cpu.name},
                   {"memory_utilization", p.settings.memory_utilization}};
  json devices = json::array();
  for (const HardwarePlan& d : p.devices) {
    json lines = json::array();
    for (const MemoryLine& l : d.memory.lines) lines.push_back({{"name", l.name}, {"formula", l.formula}, {"bytes", l.bytes}});
    const Hardware& h = d.hardware;
    devices.push_back(
        {{"name", h.name},
         {"description", h.description},
         {"memory_bytes", h.memory_bytes},
         {"bandwidth_bytes_per_s", h.bandwidth},
         {"memory",
          {{"engine", d.memory.profile == EngineProfile::Gpu ? "gpu" : "tokenmill-cpu"},
           {"weights_bytes", d.memory.weights},
           {"kv_bytes_per_token", d.memory.kv_per_token},
           {"kv_bytes", d.memory.kv_total},
           {"activation_bytes", d.memory.activations},
           {"runtime_bytes", d.memory.runtime},
           {"total_bytes", d.memory.total()},
           {"lines", lines}}},
         {"fit",
          {{"usable_bytes", d.fit.usable_bytes},
           {"devices", d.fit.devices},
           {"fits", d.fit.fits},
           {"kv_budget_bytes", d.fit.kv_budget_bytes},
           {"max_concurrency", d.fit.max_concurrency},
           {"max_context", d.fit.max_context},
           {"shortfall_bytes", d.fit.shortfall_bytes}}},
         {"roofline",
          {{"devices", d.roofline.devices},
           {"decode_tokens_per_s", d.roofline.decode_tokens_per_s},
           {"decode_bound", d.roofline.decode_memory_bound ? "memory" : "compute"},
           {"decode_bytes_per_step", d.roofline.decode_bytes},
           {"decode_flops_per_step", d.roofline.decode_flops},
           {"experts_touched", d.roofline.experts_touched},
           {"prefill_tokens_per_s", d.roofline.prefill_tokens_per_s},
           {"prefill_bound", d.roofline.prefill_memory_bound ? "memory" : "compute"},
           {"prefill_bytes", d.roofline.prefill_bytes},
           {"prefill_flops", d.roofline.prefill_flops},
           {"peak", d.roofline.peak_used},
           {"peak_ops_per_s", d.roofline.peak}}}});
  }
  j["devices"] = devices;
  return j;
}

}  // namespace tokenmill::plan
