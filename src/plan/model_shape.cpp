#include "plan/model_shape.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/ggml_types.h"

namespace tokenmill::plan {

int64_t PlanTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

int64_t ModelShape::kv_values_per_token_layer() const {
  return is_mla ? mla.kv_lora_rank + mla.qk_rope_head_dim : 2 * n_kv_heads * head_dim;
}

// Decode with MLA runs on the latent cache ("absorbed" weights, as vLLM and SGLang do): each head
// scores kv_lora_rank + rope values per cached token and sums kv_lora_rank of them.
int64_t ModelShape::attn_qk_dim() const {
  return is_mla ? n_heads * (mla.kv_lora_rank + mla.qk_rope_head_dim) : n_heads * head_dim;
}
int64_t ModelShape::attn_v_dim() const { return is_mla ? n_heads * mla.kv_lora_rank : n_heads * head_dim; }

ParamCounts count_params(const ModelShape& shape) {
  ParamCounts c;
  const double active_share =
      shape.is_moe() ? double(shape.moe.n_active) / double(shape.moe.n_experts) : 1.0;
  for (const PlanTensor& t : shape.tensors) {
    const double n = double(t.n_elements());
    c.total += n;
    c.active += t.role == TensorRole::Expert ? n * active_share : n;
    if (t.role == TensorRole::Embedding) c.embedding += n;
  }
  return c;
}

namespace {

using nlohmann::json;

int64_t get_int(const json& j, const char* key, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() <= 0)
    throw Error(source + ": config field '" + key + "' is missing or not a positive integer");
  return it->get<int64_t>();
}

int64_t get_int_or(const json& j, const char* key, int64_t fallback, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < 0)
    throw Error(source + ": config field '" + key + "' is not a non-negative integer");
  return it->get<int64_t>();
}

bool get_bool_or(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

uint32_t dtype_of(const json& j) {
  for (const char* key : {"torch_dtype", "dtype"}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) continue;
    const std::string s = it->get<std::string>();
    if (s == "float32") return uint32_t(GgmlType::F32);
    if (s == "float16") return uint32_t(GgmlType::F16);
  }
  return uint32_t(GgmlType::BF16);
}

// Appends the GGUF-named tensors of the shape (llama.cpp's names and shapes).
class Inventory {
 public:
  Inventory(ModelShape& s, uint32_t type) : s_(s), type_(type) {}
  void add(std::string name, std::vector<int64_t> ne, TensorRole role) {
    s_.tensors.push_back({std::move(name), std::move(ne), type_, role});
  }
  void layer(int64_t i, bool moe_layer) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const int64_t d = s_.dim, h = s_.n_heads;
    add(p + "attn_norm.weight", {d}, TensorRole::Small);
    if (s_.is_mla) {
      const MlaShape& m = s_.mla;
      const int64_t qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
      if (m.q_lora_rank > 0) {
        add(p + "attn_q_a.weight", {d, m.q_lora_rank}, TensorRole::Attention);
        add(p + "attn_q_a_norm.weight", {m.q_lora_rank}, TensorRole::Small);
        add(p + "attn_q_b.weight", {m.q_lora_rank, h * qk}, TensorRole::Attention);
      } else {
        add(p + "attn_q.weight", {d, h * qk}, TensorRole::Attention);
      }
      add(p + "attn_kv_a_mqa.weight", {d, m.kv_lora_rank + m.qk_rope_head_dim}, TensorRole::Attention);
      add(p + "attn_kv_a_norm.weight", {m.kv_lora_rank}, TensorRole::Small);
      add(p + "attn_kv_b.weight", {m.kv_lora_rank, h * (m.qk_nope_head_dim + m.v_head_dim)}, TensorRole::Attention);
      add(p + "attn_output.weight", {h * m.v_head_dim, d}, TensorRole::Attention);
    } else {
      const int64_t q = s_.n_heads * s_.head_dim, kv = s_.n_kv_heads * s_.head_dim;
      add(p + "attn_q.weight", {d, q}, TensorRole::Attention);
      add(p + "attn_k.weight", {d, kv}, TensorRole::Attention);
      add(p + "attn_v.weight", {d, kv}, TensorRole::Attention);
      add(p + "attn_output.weight", {q, d}, TensorRole::Attention);
      if (s_.qkv_bias) {
        add(p + "attn_q.bias", {q}, TensorRole::Small);
        add(p + "attn_k.bias", {kv}, TensorRole::Small);
        add(p + "attn_v.bias", {kv}, TensorRole::Small);
      }
      if (s_.qk_norm) {
        add(p + "attn_q_norm.weight", {s_.head_dim}, TensorRole::Small);
        add(p + "attn_k_norm.weight", {s_.head_dim}, TensorRole::Small);
      }
    }
    add(p + "ffn_norm.weight", {d}, TensorRole::Small);
    if (!moe_layer) {
      add(p + "ffn_gate.weight", {d, s_.ffn_dim}, TensorRole::Ffn);
      add(p + "ffn_up.weight", {d, s_.ffn_dim}, TensorRole::Ffn);
      add(p + "ffn_down.weight", {s_.ffn_dim, d}, TensorRole::Ffn);
      return;
    }
    const MoeShape& e = s_.moe;
    add(p + "ffn_gate_inp.weight", {d, e.n_experts}, TensorRole::Router);
    if (s_.family == "deepseek_v3" || s_.family == "kimi_k2" || s_.family == "deepseek2")
      add(p + "exp_probs_b.bias", {e.n_experts}, TensorRole::Small);
    add(p + "ffn_gate_exps.weight", {d, e.expert_ffn, e.n_experts}, TensorRole::Expert);
    add(p + "ffn_up_exps.weight", {d, e.expert_ffn, e.n_experts}, TensorRole::Expert);
    add(p + "ffn_down_exps.weight", {e.expert_ffn, d, e.n_experts}, TensorRole::Expert);
    if (e.shared_ffn > 0) {
      if (s_.family == "qwen2_moe") add(p + "ffn_gate_inp_shexp.weight", {d}, TensorRole::Small);
      add(p + "ffn_gate_shexp.weight", {d, e.shared_ffn}, TensorRole::SharedExpert);
      add(p + "ffn_up_shexp.weight", {d, e.shared_ffn}, TensorRole::SharedExpert);
      add(p + "ffn_down_shexp.weight", {e.shared_ffn, d}, TensorRole::SharedExpert);
    }
  }

 private:
  ModelShape& s_;
  uint32_t type_;
};

}  // namespace

ModelShape shape_from_hf_config(const json& config_in, const std::string& source) {
  if (!config_in.is_object()) throw Error(source + ": config is not a JSON object");
  // Multimodal checkpoints keep the language model's fields under text_config.
  const json& c = !config_in.contains("hidden_size") && config_in.contains("text_config") &&
                          config_in["text_config"].is_object()
                      ? config_in["text_config"]
                      : config_in;
  ModelShape s;
  s.source = source;
  s.family = c.value("model_type", std::string());
  static const char* const kFamilies[] = {"llama",     "mistral",     "qwen2",       "qwen3",  "mixtral",
                                          "qwen2_moe", "qwen3_moe",   "deepseek_v2", "deepseek_v3", "kimi_k2"};
  if (std::find(std::begin(kFamilies), std::end(kFamilies), s.family) == std::end(kFamilies))
    throw Error(source + ": model_type '" + s.family +
                "' is not one plan knows (llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe, "
                "deepseek_v2, deepseek_v3, kimi_k2)");
  s.vocab_size = get_int(c, "vocab_size", source);
  s.dim = get_int(c, "hidden_size", source);
  s.n_layers = get_int(c, "num_hidden_layers", source);
  s.n_heads = get_int(c, "num_attention_heads", source);
  s.n_kv_heads = get_int_or(c, "num_key_value_heads", s.n_heads, source);
  s.head_dim = get_int_or(c, "head_dim", s.dim / s.n_heads, source);
  s.ffn_dim = get_int_or(c, "intermediate_size", 0, source);
  s.max_context = get_int_or(c, "max_position_embeddings", 4096, source);
  s.tied_embeddings = get_bool_or(c, "tie_word_embeddings", false);
  s.qkv_bias = get_bool_or(c, "attention_bias", s.family == "qwen2" || s.family == "qwen2_moe");
  s.qk_norm = s.family == "qwen3" || s.family == "qwen3_moe";
  s.name = c.value("_name_or_path", std::string());

  // Which layers route to experts.
  std::vector<bool> moe_layer(size_t(s.n_layers), false);
  if (s.family == "mixtral") {
    s.moe = {get_int(c, "num_local_experts", source), get_int(c, "num_experts_per_tok", source), s.ffn_dim, 0, 0};
    std::fill(moe_layer.begin(), moe_layer.end(), true);
  } else if (s.family == "qwen2_moe" || s.family == "qwen3_moe") {
    s.moe.n_experts = get_int(c, "num_experts", source);
    s.moe.n_active = get_int(c, "num_experts_per_tok", source);
    s.moe.expert_ffn = get_int(c, "moe_intermediate_size", source);
    s.moe.shared_ffn = get_int_or(c, "shared_expert_intermediate_size", 0, source);
    const int64_t step = std::max<int64_t>(1, get_int_or(c, "decoder_sparse_step", 1, source));
    std::vector<int64_t> dense_only;
    if (c.contains("mlp_only_layers") && c["mlp_only_layers"].is_array())
      for (const json& v : c["mlp_only_layers"])
        if (v.is_number_integer()) dense_only.push_back(v.get<int64_t>());
    for (int64_t i = 0; i < s.n_layers; ++i)
      moe_layer[size_t(i)] = (i + 1) % step == 0 &&
                             std::find(dense_only.begin(), dense_only.end(), i) == dense_only.end();
  } else if (s.family == "deepseek_v2" || s.family == "deepseek_v3" || s.family == "kimi_k2") {
    s.is_mla = true;
    s.mla.q_lora_rank = get_int_or(c, "q_lora_rank", 0, source);
    s.mla.kv_lora_rank = get_int(c, "kv_lora_rank", source);
    s.mla.qk_nope_head_dim = get_int(c, "qk_nope_head_dim", source);
    s.mla.qk_rope_head_dim = get_int(c, "qk_rope_head_dim", source);
    s.mla.v_head_dim = get_int(c, "v_head_dim", source);
    s.head_dim = s.mla.qk_nope_head_dim + s.mla.qk_rope_head_dim;
    s.n_kv_heads = s.n_heads;
    s.moe.n_experts = get_int_or(c, "n_routed_experts", 0, source);
    if (s.moe.n_experts > 0) {
      s.moe.n_active = get_int(c, "num_experts_per_tok", source);
      s.moe.expert_ffn = get_int(c, "moe_intermediate_size", source);
      s.moe.shared_ffn = get_int_or(c, "n_shared_experts", 0, source) * s.moe.expert_ffn;
      s.moe.n_dense_layers = get_int_or(c, "first_k_dense_replace", 0, source);
      const int64_t freq = std::max<int64_t>(1, get_int_or(c, "moe_layer_freq", 1, source));
      for (int64_t i = 0; i < s.n_layers; ++i) moe_layer[size_t(i)] = i >= s.moe.n_dense_layers && i % freq == 0;
    }
  }
  if (s.is_moe() && (s.moe.n_active > s.moe.n_experts))
    throw Error(source + ": num_experts_per_tok " + std::to_string(s.moe.n_active) + " exceeds the " +
                std::to_string(s.moe.n_experts) + " experts");
  const bool any_dense = std::find(moe_layer.begin(), moe_layer.end(), false) != moe_layer.end();
  if (any_dense && s.ffn_dim <= 0) throw Error(source + ": config field 'intermediate_size' is missing");
  if (!s.is_mla && s.n_heads % s.n_kv_heads != 0)
    throw Error(source + ": num_attention_heads " + std::to_string(s.n_heads) +
                " is not a multiple of num_key_value_heads " + std::to_string(s.n_kv_heads));

  const uint32_t type = dtype_of(c);
  Inventory inv(s, type);
  inv.add("token_embd.weight", {s.dim, s.vocab_size}, TensorRole::Embedding);
  for (int64_t i = 0; i < s.n_layers; ++i) inv.layer(i, moe_layer[size_t(i)]);
  inv.add("output_norm.weight", {s.dim}, TensorRole::Small);
  if (!s.tied_embeddings) inv.add("output.weight", {s.dim, s.vocab_size}, TensorRole::Output);
  return s;
}

}  // namespace tokenmill::plan
