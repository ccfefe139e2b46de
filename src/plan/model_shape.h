// ModelShape: what `tokenmill plan` needs to know of a model to predict its memory and speed, read
// from a GGUF file, a Hugging Face config.json (or its directory) or a built-in preset: the
// dimensions, the attention kind (grouped-query, or DeepSeek's multi-head latent attention), the
// experts of a mixture-of-experts model, and the inventory of its weight tensors under GGUF names.
// Any model can be planned, also families tokenmill does not run yet (MoE, MLA).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tokenmill {

class GgufFile;

namespace plan {

// What a tensor does; decides how quantization treats it and what one decode step reads of it.
enum class TensorRole {
  Embedding,     // token_embd: looked up by row, one row per token
  Output,        // the LM head (absent when tied to the embedding)
  Small,         // norms, biases, router score biases: vectors, kept in f32 / bf16
  Attention,     // q/k/v/o and MLA's low-rank projections
  Ffn,           // dense SwiGLU MLP
  Router,        // MoE gate: [dim -> experts]
  Expert,        // routed experts, 3-D [experts, rows, cols]; a token reads k of them
  SharedExpert,  // experts every token uses
};

struct PlanTensor {
  std::string name;          // GGUF name, e.g. "blk.3.ffn_up_exps.weight"
  std::vector<int64_t> ne;   // GGUF order: innermost (contiguous) dimension first
  uint32_t ggml_type = 0;    // as stored (GGUF), or the checkpoint's dtype (config.json / preset)
  TensorRole role = TensorRole::Small;
  int64_t n_elements() const;
};

// DeepSeek's multi-head latent attention (DeepSeek-V2/V3, Kimi-K2): the cache holds one
// compressed latent of kv_lora_rank values plus a shared rope key of qk_rope_head_dim per token.
struct MlaShape {
  int64_t q_lora_rank = 0;        // 0: q is a full projection
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
};

struct MoeShape {
  int64_t n_experts = 0;          // routed experts per MoE layer; 0 = dense model
  int64_t n_active = 0;           // experts each token is routed to (top-k)
  int64_t expert_ffn = 0;         // intermediate size of one routed expert
  int64_t shared_ffn = 0;         // intermediate size of the shared expert(s) together; 0 = none
  int64_t n_dense_layers = 0;     // leading layers with a dense MLP (DeepSeek first_k_dense_replace)
};

struct ModelShape {
  std::string name;               // display name
  std::string source;             // "preset", the file or directory it came from
  std::string family;             // model_type / general.architecture
  int64_t vocab_size = 0;
  int64_t dim = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;           // of q and k (GQA); MLA: qk_nope + qk_rope
  int64_t ffn_dim = 0;            // dense MLP intermediate size
  int64_t max_context = 0;
  bool tied_embeddings = false;
  bool qkv_bias = false;
  bool qk_norm = false;
  bool is_mla = false;
  MlaShape mla;
  MoeShape moe;
  bool from_gguf = false;         // the tensors' types and order are the file's own
  std::vector<PlanTensor> tensors;

  bool is_moe() const { return moe.n_experts > 0; }
  // Values cached per token and layer (K and V; MLA: latent + rope key).
  int64_t kv_values_per_token_layer() const;
  // q heads x (q/k head dim) and x (v head dim): attention's work per cached token.
  int64_t attn_qk_dim() const;
  int64_t attn_v_dim() const;
};

struct ParamCounts {
  double total = 0;               // every weight
  double active = 0;              // what one token computes with: routed experts counted k/E
  double embedding = 0;           // token_embd (a lookup, no matmul)
};
ParamCounts count_params(const ModelShape& shape);

// From a Hugging Face config.json (model_type llama, mistral, qwen2, qwen3, mixtral, qwen2_moe,
// qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2). Throws Error naming the missing or bad field.
ModelShape shape_from_hf_config(const nlohmann::json& config, const std::string& source);
// From a GGUF file: dimensions from its metadata, tensors (names, shapes, types) as stored.
ModelShape shape_from_gguf(const GgufFile& gguf);

// Built-in presets, from published config.json files.
std::vector<std::string> preset_names();
// "a preset name", a .gguf file, a config.json, or a directory holding config.json. Throws Error
// naming `spec` when it is none of them.
ModelShape load_model_shape(const std::string& spec);

}  // namespace plan
}  // namespace tokenmill
