#include "engine/hf_to_gguf.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "engine/model_loader.h"
#include "formats/ggml_types.h"
#include "formats/gguf_writer.h"
#include "kernels/ops.h"

namespace tokenmill {

namespace {

uint32_t ggml_type_of(DType t) {
  switch (t) {
    case DType::F32: return uint32_t(GgmlType::F32);
    case DType::F16: return uint32_t(GgmlType::F16);
    case DType::BF16: return uint32_t(GgmlType::BF16);
    default: throw Error("convert: tensor dtype " + std::string(dtype_name(t)) + " is not supported");
  }
}

// Converts n f32 values to dtype `to`, appended as bytes to out.
void encode_f32(const float* src, size_t n, DType to, std::vector<std::byte>& out) {
  out.resize(n * dtype_size_bytes(to));
  if (to == DType::F32) {
    std::memcpy(out.data(), src, n * 4);
    return;
  }
  auto* dst = reinterpret_cast<uint16_t*>(out.data());
  for (size_t i = 0; i < n; ++i) dst[i] = to == DType::F16 ? f32_to_fp16(src[i]) : f32_to_bf16(src[i]);
}

// llama.cpp's layout for "llama"-arch q/k: within each head, row (j * hd/2 + i) of the NeoX
// layout moves to row (2 * i + j), so rope rotates adjacent pairs. rows: [n_heads * hd] of `cols`.
std::vector<float> permute_rows_for_interleaved_rope(const std::vector<float>& w, int64_t n_heads,
                                                     int64_t rows, int64_t cols) {
  std::vector<float> out(w.size());
  const int64_t hd = rows / n_heads, half = hd / 2;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < half; ++i) {
        const int64_t src = h * hd + j * half + i, dst = h * hd + 2 * i + j;
        std::memcpy(&out[size_t(dst * cols)], &w[size_t(src * cols)], size_t(cols) * sizeof(float));
      }
  return out;
}

void write_tokenizer(const TokenizerSpec& s, const std::string& chat_template, GgufWriter& w) {
  w.add_string("tokenizer.ggml.model", s.model == TokenizerModel::spm ? "llama" : "gpt2");
  w.add_string("tokenizer.ggml.pre", s.pre_name);
  w.add_string_array("tokenizer.ggml.tokens", s.tokens);
  if (!s.scores.empty()) w.add_f32_array("tokenizer.ggml.scores", s.scores);
  if (!s.types.empty()) {
    std::vector<int32_t> types;
    for (TokenType t : s.types) types.push_back(int32_t(t));
    w.add_i32_array("tokenizer.ggml.token_type", types);
  }
  if (!s.merges.empty()) {
    std::vector<std::string> merges;
    for (const auto& [a, b] : s.merges) merges.push_back(a + " " + b);
    w.add_string_array("tokenizer.ggml.merges", merges);
  }
  auto id = [&](const char* key, int32_t v) {
    if (v >= 0) w.add_u32(key, uint32_t(v));
  };
  id("tokenizer.ggml.bos_token_id", s.bos_id);
  id("tokenizer.ggml.eos_token_id", s.eos_id);
  id("tokenizer.ggml.eot_token_id", s.eot_id);
  id("tokenizer.ggml.eom_token_id", s.eom_id);
  id("tokenizer.ggml.unknown_token_id", s.unk_id);
  id("tokenizer.ggml.padding_token_id", s.pad_id);
  w.add_bool("tokenizer.ggml.add_bos_token", s.add_bos);
  w.add_bool("tokenizer.ggml.add_eos_token", s.add_eos);
  if (s.model == TokenizerModel::spm) w.add_bool("tokenizer.ggml.add_space_prefix", s.space_prefix != SpacePrefix::none);
  if (!chat_template.empty()) w.add_string("tokenizer.chat_template", chat_template);
}

}  // namespace

ConvertReport convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_path,
                                 const ConvertOptions& opt) {
  namespace fs = std::filesystem;
  check(fs::is_directory(hf_dir), hf_dir + ": not a directory (convert expects a Hugging Face checkpoint directory)");
  LoadedModel m = load_model(hf_dir);
  const ModelConfig& c = m.config;
  const HfCheckpoint& hf = *m.files.hf;
  // llama.cpp files Mistral under arch "llama"; its sliding window is kept in an extra key.
  const std::string arch = c.architecture == "mistral" ? "llama" : c.architecture;
  const bool interleaved = arch == "llama";
  GgufWriter w;
  w.add_string("general.architecture", arch);
  std::string name = opt.name.empty() ? fs::path(hf_dir).filename().string() : opt.name;
  if (name.empty()) name = fs::path(hf_dir).parent_path().filename().string();
  w.add_string("general.name", name);
  const std::string a = arch + ".";
  w.add_u32(a + "context_length", uint32_t(c.max_context));
  w.add_u32(a + "embedding_length", uint32_t(c.dim));
  w.add_u32(a + "block_count", uint32_t(c.n_layers));
  w.add_u32(a + "feed_forward_length", uint32_t(c.ffn_dim));
  w.add_u32(a + "attention.head_count", uint32_t(c.n_heads));
  w.add_u32(a + "attention.head_count_kv", uint32_t(c.n_kv_heads));
  w.add_f32(a + "attention.layer_norm_rms_epsilon", c.rms_eps);
  w.add_f32(a + "rope.freq_base", c.rope_theta);
  w.add_u32(a + "rope.dimension_count", uint32_t(c.head_dim));
  w.add_u32(a + "vocab_size", uint32_t(c.vocab_size));
  if (c.head_dim * c.n_heads != c.dim) {
    w.add_u32(a + "attention.key_length", uint32_t(c.head_dim));
    w.add_u32(a + "attention.value_length", uint32_t(c.head_dim));
  }
  if (c.sliding_window > 0) w.add_u32(a + "attention.sliding_window", uint32_t(c.sliding_window));
  if (c.rope_scaling.type == RopeScalingType::Linear) {
    w.add_string(a + "rope.scaling.type", "linear");
    w.add_f32(a + "rope.scaling.factor", c.rope_scaling.factor);
  }
  write_tokenizer(m.tokenizer->spec(), m.chat_template, w);

  ConvertReport report;
  report.architecture = arch;
  if (c.rope_scaling.type == RopeScalingType::Llama3) {
    // Frequency divisors so that base_inv_freq / factor == the llama3-scaled inv_freq.
    ModelConfig unscaled = c;
    unscaled.rope_scaling = RopeScaling{};
    const auto base = rope_inv_freq(unscaled, {});
    const auto scaled = rope_inv_freq(c, {});
    std::vector<float> factors(base.size());
    for (size_t i = 0; i < base.size(); ++i) factors[i] = base[i] / scaled[i];
    w.add_tensor("rope_freqs.weight", GgmlType::F32, {int64_t(factors.size())},
                 std::as_bytes(std::span<const float>(factors)));
    ++report.n_tensors;
  }
  bool any_f16 = false, any_bf16 = false;
  std::vector<float> f32;
  std::vector<std::byte> bytes;
  for (const TensorInfo& t : hf.tensors()) {
    const auto gname = gguf_name_of_hf(t.name);
    if (!gname) continue;
    if (c.tied_embeddings && *gname == "output.weight") continue;
    const size_t n = size_t(t.n_elements());
    f32.resize(n);
    kernels::to_f32(f32.data(), t.data, t.dtype, n);
    const bool is_q = gname->ends_with("attn_q.weight") || gname->ends_with("attn_q.bias");
    const bool is_k = gname->ends_with("attn_k.weight") || gname->ends_with("attn_k.bias");
    if (interleaved && (is_q || is_k)) {
      const int64_t rows = t.shape[0], cols = t.shape.size() == 2 ? t.shape[1] : 1;
      f32 = permute_rows_for_interleaved_rope(f32, is_q ? c.n_heads : c.n_kv_heads, rows, cols);
    }
    DType out = DType::F32;
    if (t.shape.size() >= 2) {
      switch (opt.out_dtype) {
        case ConvertDType::Auto: out = t.dtype; break;
        case ConvertDType::F32: out = DType::F32; break;
        case ConvertDType::F16: out = DType::F16; break;
        case ConvertDType::BF16: out = DType::BF16; break;
      }
    }
    any_f16 |= out == DType::F16;
    any_bf16 |= out == DType::BF16;
    encode_f32(f32.data(), n, out, bytes);
    w.add_tensor(*gname, ggml_type_of(out), t.shape, bytes);
    ++report.n_tensors;
    report.bytes_written += bytes.size();
  }
  // general.file_type: 0 = all F32, 1 = mostly F16, 32 = mostly BF16 (llama_ftype values).
  w.add_u32("general.file_type", any_bf16 ? 32u : any_f16 ? 1u : 0u);
  w.write(out_path);
  return report;
}

}  // namespace tokenmill
