#include "plan/number_formats.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "plan/units.h"
#include "formats/ggml_types.h"

namespace tokenmill::plan {
namespace {


bool is_float_type(uint32_t t) {
  return t == uint32_t(GgmlType::F32) || t == uint32_t(GgmlType::F16) || t == uint32_t(GgmlType::BF16);
}

double ceil_div(double a, double b) { return double(int64_t((a + b - 1) / b)); }

// Bytes of a tensor stored as ggml type t; rows that are not whole blocks are sized at F16
// (llama.cpp's quantizers fall back the same way for such rows).
double ggml_bytes(uint32_t t, const PlanTensor& x) {
  const auto n = ggml_tensor_nbytes(t, uint64_t(x.ne.empty() ? 1 : x.ne[0]), uint64_t(x.n_elements()));
  return n ? double(*n) : 2.0 * double(x.n_elements());
}

// GPU formats: matrices in the format, embedding / LM head / vectors in BF16 (what llm-compressor,
// ModelOpt and vLLM keep unquantized by default).
bool gpu_format_quantizes(const PlanTensor& x) {
  return x.ne.size() >= 2 && x.role != TensorRole::Embedding && x.role != TensorRole::Output &&
         x.role != TensorRole::Router;
}

double gpu_format_bytes(WeightFormatKind k, const PlanTensor& x) {
  const double n = double(x.n_elements());
  if (!gpu_format_quantizes(x)) return 2.0 * n;
  const double cols = double(x.ne[0]), rows = n / cols;
  switch (k) {
    case WeightFormatKind::Fp8:  // E4M3 + an f32 scale per 128x128 tile (DeepSeek-V3's layout)
      return n + 4.0 * ceil_div(cols, 128) * ceil_div(rows, 128);
    case WeightFormatKind::Int8:  // + an f32 scale per output channel
      return n + 4.0 * rows;
    case WeightFormatKind::Int4:  // 4-bit codes + per group of 128: f16 scale + 4-bit zero point
      return n / 2 + rows * ceil_div(cols, 128) * 2.5;
    case WeightFormatKind::Nvfp4:  // E2M1 codes + an E4M3 scale per 16 + an f32 per tensor
      return n / 2 + rows * ceil_div(cols, 16) + 4.0;
    case WeightFormatKind::Mxfp4:  // E2M1 codes + an E8M0 scale per 32
      return n / 2 + rows * ceil_div(cols, 32);
    default:
      return 2.0 * n;
  }
}

std::string gguf_arch(const std::string& family) {
  if (family == "qwen3_moe") return "qwen3moe";
  if (family == "qwen2_moe") return "qwen2moe";
  if (family == "deepseek_v2" || family == "deepseek_v3" || family == "kimi_k2") return "deepseek2";
  if (family == "mixtral" || family == "mistral") return "llama";
  return family;
}

}  // namespace

const char* compute_class_name(ComputeClass c) {
  switch (c) {
    case ComputeClass::F32: return "f32";
    case ComputeClass::BF16: return "bf16";
    case ComputeClass::FP8: return "fp8";
    case ComputeClass::INT8: return "int8";
    case ComputeClass::FP4: return "fp4";
  }
  return "?";
}

std::string weight_format_names() {
  return "source, f32, f16, bf16, fp8, int8, int4, nvfp4, mxfp4, " + quant_scheme_names();
}

WeightFormat parse_weight_format(const std::string& name) {
  const std::string n = lower_ascii(name);
  WeightFormat f;
  f.name = n;
  if (n == "source" || n.empty()) {
    f.kind = WeightFormatKind::Source;
    f.name = "source";
    f.how = "as stored in the checkpoint";
  } else if (n == "f32" || n == "f16" || n == "bf16") {
    f.kind = WeightFormatKind::Float;
    f.float_type = uint32_t(n == "f32" ? GgmlType::F32 : n == "f16" ? GgmlType::F16 : GgmlType::BF16);
    f.how = "every tensor in " + n;
  } else if (n == "fp8") {
    f.kind = WeightFormatKind::Fp8;
    f.how = "FP8 E4M3 matrices, an f32 scale per 128x128 tile; embedding, LM head and vectors bf16";
  } else if (n == "int8") {
    f.kind = WeightFormatKind::Int8;
    f.how = "INT8 matrices, an f32 scale per output channel; embedding, LM head and vectors bf16";
  } else if (n == "int4") {
    f.kind = WeightFormatKind::Int4;
    f.how = "INT4 W4A16 (GPTQ/AWQ): groups of 128 with an f16 scale and a 4-bit zero point; "
            "embedding, LM head and vectors bf16";
  } else if (n == "nvfp4") {
    f.kind = WeightFormatKind::Nvfp4;
    f.how = "NVFP4: E2M1 values, an E4M3 scale per 16 and an f32 per tensor; embedding, LM head and vectors bf16";
  } else if (n == "mxfp4") {
    f.kind = WeightFormatKind::Mxfp4;
    f.how = "MXFP4: E2M1 values, an E8M0 scale per 32; embedding, LM head and vectors bf16";
  } else if (auto s = quant_scheme_from_name(n)) {
    f.kind = WeightFormatKind::Gguf;
    f.scheme = *s;
    f.name = std::string(quant_scheme_name(*s));
    f.how = "GGUF " + f.name + " with llama.cpp's mixture rules (as `tokenmill quantize`); vectors f32";
  } else {
    throw Error("unknown weight format '" + name + "' (one of: " + weight_format_names() + ")");
  }
  return f;
}

WeightBytes weight_bytes(const ModelShape& shape, const WeightFormat& format) {
  // Each tensor's stored type (ggml id), or 0 for the GPU formats, and its bytes.
  const bool gpu_format = format.kind != WeightFormatKind::Source && format.kind != WeightFormatKind::Float &&
                          format.kind != WeightFormatKind::Gguf;
  std::vector<uint32_t> types(shape.tensors.size());
  std::vector<double> bytes(shape.tensors.size());
  if (format.kind == WeightFormatKind::Gguf) {
    std::vector<QuantTensorDesc> descs;
    for (const PlanTensor& t : shape.tensors) {
      // llama.cpp's converters store vectors in f32 whatever the checkpoint's type.
      const bool vector = t.ne.size() == 1;
      descs.push_back({t.name, vector && !shape.from_gguf ? uint32_t(GgmlType::F32) : t.ggml_type, t.ne});
    }
    QuantModelFacts facts{gguf_arch(shape.family), shape.n_layers, shape.n_heads, shape.n_kv_heads, shape.moe.n_experts};
    const std::vector<QuantTensorPlan> plans = plan_quantization(descs, format.scheme, facts);
    for (size_t i = 0; i < plans.size(); ++i) types[i] = plans[i].to_type;
  }
  for (size_t i = 0; i < shape.tensors.size(); ++i) {
    const PlanTensor& t = shape.tensors[i];
    switch (format.kind) {
      case WeightFormatKind::Source:
        types[i] = t.ggml_type;
        break;
      case WeightFormatKind::Float:
        types[i] = t.ne.size() == 1 && shape.from_gguf ? t.ggml_type : format.float_type;
        break;
      case WeightFormatKind::Gguf:
        break;
      default:
        types[i] = uint32_t(GgmlType::BF16);  // what stays unquantized; matrices priced below
    }
    bytes[i] = gpu_format ? gpu_format_bytes(format.kind, t) : ggml_bytes(types[i], t);
  }

  WeightBytes w;
  w.types = types;
  std::map<uint32_t, double> bytes_by_type;
  for (size_t i = 0; i < shape.tensors.size(); ++i) {
    const PlanTensor& t = shape.tensors[i];
    const double b = bytes[i];
    w.total += b;
    switch (t.role) {
      case TensorRole::Embedding:
        w.embedding += b;
        w.embedding_row = t.ne.size() >= 2 ? b / double(t.ne[1]) : b;
        break;
      case TensorRole::Output:
        w.output += b;
        break;
      case TensorRole::Expert:
        w.experts += b;
        break;
      default:
        w.layers_dense += b;
    }
    if (t.ne.size() >= 2) {
      const bool in_format = gpu_format && gpu_format_quantizes(t);
      ++w.type_counts[in_format ? format.name : std::string(ggml_type_name(types[i]))];
      if (t.role != TensorRole::Embedding && !in_format) bytes_by_type[types[i]] += b;
    }
  }
  // The class of arithmetic of the bulk of the bytes a step computes with.
  uint32_t main_type = 0;
  double most = -1;
  for (const auto& [type, b] : bytes_by_type)
    if (b > most) most = b, main_type = type;
  switch (format.kind) {
    case WeightFormatKind::Fp8: w.compute = ComputeClass::FP8; break;
    case WeightFormatKind::Int8: w.compute = ComputeClass::INT8; break;
    case WeightFormatKind::Int4: w.compute = ComputeClass::BF16; break;
    case WeightFormatKind::Nvfp4:
    case WeightFormatKind::Mxfp4: w.compute = ComputeClass::FP4; break;
    default:
      w.compute = main_type == uint32_t(GgmlType::F32)   ? ComputeClass::F32
                  : is_float_type(main_type)              ? ComputeClass::BF16
                                                          : ComputeClass::INT8;
  }
  return w;
}

std::string kv_format_names() { return "f32, f16, bf16, fp8, int8, q8_0, q4_0"; }

KvFormat parse_kv_format(const std::string& name) {
  const std::string n = lower_ascii(name);
  if (n == "f32") return {n, 4.0};
  if (n == "f16" || n == "bf16") return {n, 2.0};
  if (n == "fp8" || n == "int8") return {n, 1.0};
  if (n == "q8_0") return {n, 34.0 / 32.0};
  if (n == "q4_0") return {n, 18.0 / 32.0};
  throw Error("unknown KV cache format '" + name + "' (one of: " + kv_format_names() + ")");
}

}  // namespace tokenmill::plan
