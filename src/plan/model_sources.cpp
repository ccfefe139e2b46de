// Where a ModelShape comes from: a GGUF file, a config.json (or its directory), or a preset.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "plan/units.h"
#include "formats/gguf.h"
#include "plan/model_shape.h"
#include "plan/presets.h"

namespace tokenmill::plan {
namespace {

TensorRole role_of(const std::string& name, size_t n_dims) {
  if (name == "token_embd.weight") return TensorRole::Embedding;
  if (name == "output.weight") return TensorRole::Output;
  if (n_dims == 1) return TensorRole::Small;
  if (name.find("_exps.") != std::string::npos) return TensorRole::Expert;
  if (name.find("_shexp.") != std::string::npos) return TensorRole::SharedExpert;
  if (name.find("ffn_gate_inp") != std::string::npos) return TensorRole::Router;
  if (name.find(".ffn_") != std::string::npos) return TensorRole::Ffn;
  return TensorRole::Attention;
}


}  // namespace

ModelShape shape_from_gguf(const GgufFile& g) {
  ModelShape s;
  s.source = g.path();
  s.from_gguf = true;
  s.family = g.get_string("general.architecture").value_or("");
  if (s.family.empty()) throw Error(g.path() + ": no general.architecture key");
  s.name = g.get_string("general.name").value_or(std::filesystem::path(g.path()).filename().string());
  const std::string a = s.family + ".";
  auto need = [&](const std::string& key) {
    std::optional<int64_t> v;
    try {
      v = g.get_int(key);
    } catch (const Error&) {
      // Per-layer arrays (some hybrid models): plan takes the largest value.
      auto arr = g.get_int_array(key);
      if (arr && !arr->empty()) v = *std::max_element(arr->begin(), arr->end());
    }
    if (!v || *v <= 0) throw Error(g.path() + ": key '" + key + "' is missing or not a positive integer");
    return *v;
  };
  auto opt = [&](const std::string& key, int64_t fallback) {
    try {
      return g.get_int(key).value_or(fallback);
    } catch (const Error&) {
      return fallback;
    }
  };
  s.dim = need(a + "embedding_length");
  s.n_layers = need(a + "block_count");
  s.n_heads = need(a + "attention.head_count");
  s.n_kv_heads = opt(a + "attention.head_count_kv", s.n_heads);
  s.head_dim = opt(a + "attention.key_length", s.dim / s.n_heads);
  s.ffn_dim = opt(a + "feed_forward_length", 0);
  s.max_context = opt(a + "context_length", 4096);
  s.moe.n_experts = opt(a + "expert_count", 0);
  s.moe.n_active = opt(a + "expert_used_count", 0);
  s.moe.expert_ffn = opt(a + "expert_feed_forward_length", s.ffn_dim);
  s.moe.shared_ffn = opt(a + "expert_shared_count", 0) * s.moe.expert_ffn;
  s.moe.n_dense_layers = opt(a + "leading_dense_block_count", 0);
  if (s.is_moe() && (s.moe.n_active <= 0 || s.moe.n_active > s.moe.n_experts))
    throw Error(g.path() + ": key '" + a + "expert_used_count' must be in [1, expert_count]");
  if (s.family == "deepseek2") {
    s.is_mla = true;
    s.mla.q_lora_rank = opt(a + "attention.q_lora_rank", 0);
    s.mla.kv_lora_rank = need(a + "attention.kv_lora_rank");
    s.mla.qk_rope_head_dim = need(a + "rope.dimension_count");
    s.mla.qk_nope_head_dim = s.head_dim - s.mla.qk_rope_head_dim;
    s.mla.v_head_dim = opt(a + "attention.value_length", s.mla.qk_nope_head_dim);
    s.n_kv_heads = s.n_heads;
  }
  if (!s.is_mla && s.n_heads % std::max<int64_t>(1, s.n_kv_heads) != 0)
    throw Error(g.path() + ": head_count " + std::to_string(s.n_heads) + " is not a multiple of head_count_kv " +
                std::to_string(s.n_kv_heads));
  bool has_output = false;
  for (const GgufTensor& t : g.tensors()) {
    const TensorRole role = role_of(t.name, t.ne.size());
    s.tensors.push_back({t.name, t.ne, t.ggml_type, role});
    if (role == TensorRole::Embedding) s.vocab_size = t.ne.size() >= 2 ? t.ne[1] : 0;
    has_output = has_output || role == TensorRole::Output;
  }
  s.tied_embeddings = !has_output;
  if (s.vocab_size <= 0) s.vocab_size = opt(a + "vocab_size", 0);
  if (s.vocab_size <= 0) throw Error(g.path() + ": no token_embd.weight tensor and no vocab_size key");
  s.qkv_bias = g.find_tensor("blk.0.attn_q.bias") != nullptr;
  s.qk_norm = g.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  return s;
}

ModelShape load_model_shape(const std::string& spec) {
  for (const Preset& p : presets())
    if (lower_ascii(spec) == lower_ascii(std::string(p.name))) {
      ModelShape s = shape_from_hf_config(nlohmann::json::parse(p.config_json), "preset " + std::string(p.name));
      s.name = p.name;
      s.source = "preset";
      return s;
    }
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(spec, ec)) {
    std::string names;
    for (const Preset& p : presets()) names += (names.empty() ? "" : ", ") + std::string(p.name);
    throw Error("model '" + spec + "' is neither a file, a directory nor a preset (" + names + ")");
  }
  std::string config_path = spec;
  if (fs::is_directory(spec, ec)) {
    config_path = (fs::path(spec) / "config.json").string();
    if (!fs::exists(config_path, ec)) throw Error(spec + ": directory without config.json");
  } else {
    std::ifstream in(spec, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    if (in.gcount() == 4 && std::string(magic, 4) == "GGUF") return shape_from_gguf(GgufFile(spec));
  }
  std::ifstream in(config_path);
  if (!in) throw Error(config_path + ": cannot be read");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw Error(config_path + ": neither a GGUF file nor valid JSON");
  ModelShape s = shape_from_hf_config(j, config_path);
  if (s.name.empty()) s.name = fs::path(fs::absolute(config_path).parent_path()).filename().string();
  return s;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : presets()) names.emplace_back(p.name);
  return names;
}

}  // namespace tokenmill::plan
