#include "engine/gguf_quantize.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <span>

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/ggml_types.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "kernels/ops.h"
#include "kernels/quantize_weights.h"

namespace tokenmill {
namespace {

struct SchemeInfo {
  QuantScheme scheme;
  std::string_view name;
  uint32_t file_type;  // llama_ftype
  DType default_type;
};

constexpr SchemeInfo kSchemes[] = {
    {QuantScheme::F32, "F32", 0, DType::F32},         {QuantScheme::F16, "F16", 1, DType::F16},
    {QuantScheme::BF16, "BF16", 32, DType::BF16},     {QuantScheme::Q8_0, "Q8_0", 7, DType::Q8_0},
    {QuantScheme::Q4_0, "Q4_0", 2, DType::Q4_0},      {QuantScheme::Q4_1, "Q4_1", 3, DType::Q4_1},
    {QuantScheme::Q5_0, "Q5_0", 8, DType::Q5_0},      {QuantScheme::Q5_1, "Q5_1", 9, DType::Q5_1},
    {QuantScheme::Q2_K, "Q2_K", 10, DType::Q2_K},     {QuantScheme::Q3_K_S, "Q3_K_S", 11, DType::Q3_K},
    {QuantScheme::Q3_K_M, "Q3_K_M", 12, DType::Q3_K}, {QuantScheme::Q4_K_S, "Q4_K_S", 14, DType::Q4_K},
    {QuantScheme::Q4_K_M, "Q4_K_M", 15, DType::Q4_K}, {QuantScheme::Q5_K_S, "Q5_K_S", 16, DType::Q5_K},
    {QuantScheme::Q5_K_M, "Q5_K_M", 17, DType::Q5_K}, {QuantScheme::Q6_K, "Q6_K", 18, DType::Q6_K},
};

const SchemeInfo& scheme_info(QuantScheme s) {
  for (const SchemeInfo& i : kSchemes)
    if (i.scheme == s) return i;
  return kSchemes[0];
}

uint32_t ggml_id(DType t) {
  switch (t) {
    case DType::F32:
      return uint32_t(GgmlType::F32);
    case DType::F16:
      return uint32_t(GgmlType::F16);
    case DType::BF16:
      return uint32_t(GgmlType::BF16);
    case DType::Q4_0:
      return uint32_t(GgmlType::Q4_0);
    case DType::Q4_1:
      return uint32_t(GgmlType::Q4_1);
    case DType::Q5_0:
      return uint32_t(GgmlType::Q5_0);
    case DType::Q5_1:
      return uint32_t(GgmlType::Q5_1);
    case DType::Q8_0:
      return uint32_t(GgmlType::Q8_0);
    case DType::Q2_K:
      return uint32_t(GgmlType::Q2_K);
    case DType::Q3_K:
      return uint32_t(GgmlType::Q3_K);
    case DType::Q4_K:
      return uint32_t(GgmlType::Q4_K);
    case DType::Q5_K:
      return uint32_t(GgmlType::Q5_K);
    case DType::Q6_K:
      return uint32_t(GgmlType::Q6_K);
    default:
      throw Error("quantize: no GGUF type for " + std::string(dtype_name(t)));
  }
}

// The DType of a ggml type this command can read as f32 (float or quantized); nullopt otherwise.
std::optional<DType> convertible_dtype(uint32_t ggml_type) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                  DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    if (ggml_id(t) == ggml_type) return t;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Mixture rules (llama-quantize's tensor type selection, for the schemes offered here).

enum class Category { TokenEmbd, Output, AttnV, AttnK, AttnQ, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

// Fused qkv and MLA's kv_b count as attn_v, as in llama-quantize.
Category category_of(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::TokenEmbd;
  if (has("attn_qkv.weight") || has("attn_kv_b.weight") || has("attn_v.weight")) return Category::AttnV;
  if (has("attn_k.weight")) return Category::AttnK;
  if (has("attn_q.weight")) return Category::AttnQ;
  if (has("attn_output.weight")) return Category::AttnOutput;
  if (has("ffn_up")) return Category::FfnUp;
  if (has("ffn_gate")) return Category::FfnGate;
  if (has("ffn_down")) return Category::FfnDown;
  return Category::Other;
}

// ggml_n_dims: dimensions up to the last one longer than 1.
int n_dims(const std::vector<int64_t>& ne) {
  int n = 1;
  for (size_t i = 0; i < ne.size(); ++i)
    if (ne[i] > 1) n = int(i) + 1;
  return n;
}

// Weight matrices are converted; norms, routers, positional tables and small conv kernels are not.
bool is_quantizable(const QuantTensorDesc& t) {
  if (n_dims(t.ne) < 2) return false;
  const std::string& n = t.name;
  if (n.size() < 6 || n.compare(n.size() - 6, 6, "weight") != 0) return false;
  for (const char* excluded : {"_norm.weight", "ffn_gate_inp.weight", "position_embd", "pos_embd.weight",
                               "token_types.weight", "ssm_conv1d", "attn_rel_b.weight", "altup", "laurel"})
    if (n.find(excluded) != std::string::npos) return false;
  return true;
}

// Layers near the ends and every third in between get more bits.
bool use_more_bits(int64_t i_layer, int64_t n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

struct MixtureState {
  QuantScheme scheme;
  const QuantModelFacts& facts;
  bool tied_embeddings;    // no output.weight: token_embd doubles as the output matrix
  int64_t n_attention_wv;  // attn_v-like tensors in the file
  int64_t n_ffn_down;      // layers
  int64_t i_attention_wv = 0;
  int64_t i_ffn_down = 0;

  int64_t n_gqa() const {
    const int64_t kv = facts.n_kv_heads > 0 ? facts.n_kv_heads : facts.n_heads;
    return kv > 0 ? facts.n_heads / kv : 1;
  }
  bool is_falcon() const { return facts.architecture == "falcon"; }
  bool is_70b() const {  // llama.cpp's LLM_TYPE_70B for "llama": 80 layers with GQA
    return facts.architecture == "llama" && facts.n_layers == 80 && facts.n_heads != facts.n_kv_heads &&
           facts.n_kv_heads > 0;
  }
  // ffn_down's layer: the counter, or for mixtures of experts the "blk.N." of the name.
  int64_t ffn_down_layer(const std::string& name) const {
    int layer = 0;
    if (facts.n_experts > 1 && std::sscanf(name.c_str(), "blk.%d.", &layer) == 1) return layer;
    return i_ffn_down;
  }
};

// The mixture's type for one quantizable tensor of a quantized scheme (before the row-length
// fallback). `t` is the scheme's default type.
DType mixture_type(MixtureState& st, const QuantTensorDesc& desc, Category cat, DType t) {
  using S = QuantScheme;
  const S s = st.scheme;
  if (cat == Category::Output || (st.tied_embeddings && cat == Category::TokenEmbd)) {
    if (st.is_falcon() || desc.ne[0] % int64_t(dtype_block_elements(t)) != 0) return DType::Q8_0;
    return t == DType::Q8_0 ? t : DType::Q6_K;
  }
  if (cat == Category::TokenEmbd) return t;
  if (cat == Category::AttnV) {
    if (s == S::Q2_K)
      t = st.n_gqa() >= 4 ? DType::Q4_K : DType::Q3_K;
    else if (s == S::Q3_K_M)
      t = st.i_attention_wv < 2 ? DType::Q5_K : DType::Q4_K;
    else if ((s == S::Q4_K_M || s == S::Q5_K_M) && use_more_bits(st.i_attention_wv, st.n_attention_wv))
      t = DType::Q6_K;
    else if (s == S::Q4_K_S && st.i_attention_wv < 4)
      t = DType::Q5_K;
    if (st.is_70b() && (t == DType::Q3_K || t == DType::Q4_K)) t = DType::Q5_K;
    if (st.facts.n_experts == 8) t = DType::Q8_0;
    ++st.i_attention_wv;
    return t;
  }
  if (cat == Category::AttnK) return st.facts.n_experts == 8 ? DType::Q8_0 : t;
  if (cat == Category::FfnDown) {
    const int64_t i = st.ffn_down_layer(desc.name), n = st.n_ffn_down;
    if (s == S::Q2_K) {
      t = DType::Q3_K;
    } else if (s == S::Q3_K_M) {
      t = i < n / 16 ? DType::Q5_K : !st.is_falcon() || use_more_bits(i, n) ? DType::Q4_K : DType::Q3_K;
    } else if (s == S::Q4_K_M) {
      if (st.is_falcon())
        t = i < n / 16 ? DType::Q6_K : use_more_bits(i, n) ? DType::Q5_K : DType::Q4_K;
      else if (use_more_bits(i, n))
        t = DType::Q6_K;
    } else if (s == S::Q5_K_M && use_more_bits(i, n)) {
      t = DType::Q6_K;
    } else if (s == S::Q4_K_S && !st.is_falcon() && i < n / 8) {
      t = DType::Q5_K;
    }
    ++st.i_ffn_down;
    return t;
  }
  if (cat == Category::AttnOutput && !st.is_falcon()) {
    if (st.facts.n_experts == 8) {
      if (s == S::Q2_K || s == S::Q3_K_S || s == S::Q3_K_M || s == S::Q4_K_S || s == S::Q4_K_M)
        t = DType::Q5_K;
    } else if (s == S::Q2_K) {
      t = DType::Q3_K;
    } else if (s == S::Q3_K_M) {
      t = DType::Q4_K;
    }
  }
  return t;
}

// A type whose blocks fit a row of `row` elements: llama-quantize's fallbacks (its IQ4_NL for
// Q2_K/Q3_K is Q4_0 here, the same size), then F16 when even 32-element blocks do not fit.
DType fit_row(DType t, int64_t row, std::string& note) {
  if (row % int64_t(dtype_block_elements(t)) == 0) return t;
  DType f = DType::F16;
  switch (t) {
    case DType::Q2_K:
    case DType::Q3_K:
      f = DType::Q4_0;
      break;
    case DType::Q4_K:
      f = DType::Q5_0;
      break;
    case DType::Q5_K:
      f = DType::Q5_1;
      break;
    case DType::Q6_K:
      f = DType::Q8_0;
      break;
    default:
      break;
  }
  if (row % int64_t(dtype_block_elements(f)) != 0) f = DType::F16;
  note = "rows of " + std::to_string(row) + " are not whole " + std::string(dtype_name(t)) + " blocks of " +
         std::to_string(dtype_block_elements(t)) + ": using " + std::string(dtype_name(f));
  return f;
}

// ---------------------------------------------------------------------------------------------

std::optional<int64_t> int_or_first(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  if (v->type() == GgufType::Array) {
    if (v->array_size() == 0) return std::nullopt;
    return v->array_item(0).as_int();  // per-layer arrays: the first layer's value
  }
  return v->as_int();
}

QuantModelFacts model_facts(const GgufFile& f) {
  QuantModelFacts m;
  const GgufValue* arch = f.find("general.architecture");
  if (arch && arch->as_string()) m.architecture = *arch->as_string();
  const std::string a = m.architecture + ".";
  m.n_layers = int_or_first(f, a + "block_count").value_or(0);
  m.n_heads = int_or_first(f, a + "attention.head_count").value_or(0);
  m.n_kv_heads = int_or_first(f, a + "attention.head_count_kv").value_or(m.n_heads);
  m.n_experts = int_or_first(f, a + "expert_count").value_or(0);
  return m;
}

std::string type_name(uint32_t ggml_type) {
  return std::string(ggml_type_name(ggml_type));
}

// Fails early (before minutes of work) when out_path cannot be written or is the input.
void check_output_path(const std::string& in_path, const std::string& out_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  check(!(fs::exists(out_path, ec) && fs::equivalent(in_path, out_path, ec)),
        out_path + ": the output must not be the input file");
  check(!fs::is_directory(out_path, ec), out_path + ": is a directory");
  const std::string probe = out_path + ".tmp";
  {
    std::ofstream out(probe, std::ios::binary | std::ios::trunc);
    check(bool(out), out_path + ": cannot write: " + std::strerror(errno));
  }
  fs::remove(probe, ec);
}

// x: [n_rows, row] f32 -> dst in `to` (F32, F16, BF16 or a quantized type), rows over the pool.
void encode_rows(const float* x, DType to, std::byte* dst, size_t n_rows, size_t row, ThreadPool& pool) {
  if (dtype_is_quantized(to)) {
    kernels::quantize_rows(to, x, dst, n_rows, row, pool);
    return;
  }
  pool.parallel_for(n_rows, [&](size_t begin, size_t end, int) {
    const size_t b = begin * row, e = end * row;
    if (to == DType::F32) {
      std::memcpy(dst + b * 4, x + b, (e - b) * 4);
      return;
    }
    auto* out = reinterpret_cast<uint16_t*>(dst);
    for (size_t i = b; i < e; ++i) out[i] = to == DType::F16 ? f32_to_fp16(x[i]) : f32_to_bf16(x[i]);
  });
}

}  // namespace

std::optional<QuantScheme> quant_scheme_from_name(std::string_view name) {
  for (const SchemeInfo& i : kSchemes) {
    if (i.name.size() != name.size()) continue;
    bool same = true;
    for (size_t k = 0; k < name.size() && same; ++k)
      same = std::toupper(static_cast<unsigned char>(name[k])) == i.name[k];
    if (same) return i.scheme;
  }
  return std::nullopt;
}

std::string_view quant_scheme_name(QuantScheme s) {
  return scheme_info(s).name;
}

std::string quant_scheme_names() {
  std::string out;
  for (const SchemeInfo& i : kSchemes) out += (out.empty() ? "" : ", ") + std::string(i.name);
  return out;
}

uint32_t quant_scheme_file_type(QuantScheme s) {
  return scheme_info(s).file_type;
}
DType quant_scheme_default_type(QuantScheme s) {
  return scheme_info(s).default_type;
}

std::vector<QuantTensorPlan> plan_quantization(const std::vector<QuantTensorDesc>& tensors,
                                               QuantScheme scheme, const QuantModelFacts& facts) {
  MixtureState st{scheme, facts, true, 0, facts.n_layers};
  int64_t n_ffn_down_tensors = 0;
  for (const QuantTensorDesc& t : tensors) {
    const Category c = category_of(t.name);
    st.tied_embeddings &= c != Category::Output;
    st.n_attention_wv += c == Category::AttnV;
    n_ffn_down_tensors += c == Category::FfnDown;
  }
  if (st.n_ffn_down <= 0) st.n_ffn_down = n_ffn_down_tensors;
  const DType default_type = quant_scheme_default_type(scheme);
  std::vector<QuantTensorPlan> plans;
  plans.reserve(tensors.size());
  for (const QuantTensorDesc& t : tensors) {
    QuantTensorPlan p;
    p.to_type = t.ggml_type;
    if (is_quantizable(t)) {
      DType to = default_type;
      if (dtype_is_quantized(default_type)) {
        to = mixture_type(st, t, category_of(t.name), default_type);
        to = fit_row(to, t.ne[0], p.fallback_note);
      }
      p.to_type = ggml_id(to);
    }
    p.convert = p.to_type != t.ggml_type;
    plans.push_back(std::move(p));
  }
  return plans;
}

GgufQuantizeReport quantize_gguf(const std::string& in_path, const std::string& out_path,
                                 const GgufQuantizeOptions& opt) {
  const GgufFile in(in_path);
  check(in.get_int("split.count").value_or(1) <= 1,
        in_path + ": split GGUF files are not supported (merge the shards first)");
  std::vector<QuantTensorDesc> descs;
  for (const GgufTensor& t : in.tensors()) descs.push_back({t.name, t.ggml_type, t.ne});
  const std::vector<QuantTensorPlan> plans = plan_quantization(descs, opt.scheme, model_facts(in));

  // Everything that can fail is checked before any tensor is converted.
  for (size_t i = 0; i < plans.size(); ++i) {
    if (!plans[i].convert) continue;
    const GgufTensor& t = in.tensors()[i];
    const std::optional<DType> from = convertible_dtype(t.ggml_type);
    check(from.has_value(), in_path + ": tensor '" + t.name + "' has type " + type_name(t.ggml_type) +
                                ", which cannot be converted to " + type_name(plans[i].to_type));
    check(!dtype_is_quantized(*from) || opt.allow_requantize,
          in_path + ": tensor '" + t.name + "' is already quantized (" + type_name(t.ggml_type) +
              "); converting it to " + type_name(plans[i].to_type) +
              " requantizes it, which loses more quality: pass --allow-requantize to do it anyway");
  }
  check_output_path(in_path, out_path);

  GgufWriter w;
  for (const GgufKv& kv : in.metadata()) {
    if (kv.key == "general.alignment" || kv.key == "general.file_type" ||
        kv.key == "general.quantization_version")
      continue;
    w.add_value(kv.key, kv.value);
  }
  GgufQuantizeReport report;
  report.file_type = quant_scheme_file_type(opt.scheme);
  w.add_u32("general.quantization_version", 2);  // ggml's current block layouts
  w.add_u32("general.file_type", report.file_type);

  ThreadPool pool(opt.n_threads);
  std::deque<std::vector<std::byte>> outputs;  // converted tensors, alive until write()
  std::vector<float> f32;
  const size_t count = plans.size();
  for (size_t i = 0; i < count; ++i) {
    const GgufTensor& t = in.tensors()[i];
    const QuantTensorPlan& plan = plans[i];
    if (opt.on_tensor_begin) opt.on_tensor_begin(i, count, t.name);
    QuantizeTensorReport line{t.name,
                              {t.ne.rbegin(), t.ne.rend()},
                              t.ggml_type,
                              plan.to_type,
                              t.nbytes,
                              t.nbytes,
                              plan.fallback_note};
    if (!plan.convert) {
      w.add_tensor_view(t.name, t.ggml_type, line.shape, std::span(t.data, t.nbytes));
    } else {
      const DType from = *convertible_dtype(t.ggml_type);
      const DType to = *convertible_dtype(plan.to_type);
      const size_t row = size_t(t.ne[0]), n = size_t(t.n_elements()), n_rows = row ? n / row : 0;
      const float* x = nullptr;
      if (from == DType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0) {
        x = reinterpret_cast<const float*>(t.data);
      } else {
        f32.resize(n);
        const size_t row_bytes = dtype_row_bytes(from, row);
        pool.parallel_for(n_rows, [&](size_t begin, size_t end, int) {
          kernels::to_f32(f32.data() + begin * row, t.data + begin * row_bytes, from, (end - begin) * row);
        });
        x = f32.data();
      }
      std::vector<std::byte>& out = outputs.emplace_back(n_rows * dtype_row_bytes(to, row));
      encode_rows(x, to, out.data(), n_rows, row, pool);
      w.add_tensor_view(t.name, plan.to_type, line.shape, out);
      line.bytes_after = out.size();
    }
    report.bytes_before += line.bytes_before;
    report.bytes_after += line.bytes_after;
    report.n_elements += uint64_t(t.n_elements());
    report.n_fallbacks += !plan.fallback_note.empty();
    if (opt.on_tensor_done) opt.on_tensor_done(line);
    report.tensors.push_back(std::move(line));
  }
  w.write(out_path, in.alignment());
  return report;
}

}  // namespace tokenmill
