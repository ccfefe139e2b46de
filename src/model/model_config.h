// ModelConfig: the one normalized description of a Llama-family model, built from GGUF metadata
// or a Hugging Face config.json. The forward pass reads only this, never the file's own keys.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kernels/ops.h"

namespace tokenmill {

class GgufFile;

enum class RopeScalingType { None, Linear, Llama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::None;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;        // llama3
  float high_freq_factor = 4.0f;       // llama3
  int64_t original_max_positions = 0;  // llama3
};

struct ModelConfig {
  std::string architecture;  // normalized family: "llama", "mistral", "qwen2", "qwen3"
  std::string name;          // display name (general.name or the directory)
  int64_t vocab_size = 0;
  int64_t dim = 0;           // hidden size
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;      // may differ from dim / n_heads (Qwen3)
  int64_t ffn_dim = 0;       // intermediate size of the SwiGLU MLP
  int64_t max_context = 0;   // tokens
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  kernels::RopeStyle rope_style = kernels::RopeStyle::NeoxHalves;
  int64_t sliding_window = 0;  // tokens a query sees (itself included); 0 = unlimited
  bool qkv_bias = false;       // Qwen2
  bool qk_norm = false;        // Qwen3: RMSNorm over each head of q and k before rope
  bool tied_embeddings = false;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Throws Error naming the field when a value is missing or inconsistent.
  void validate(const std::string& source) const;
};

// From GGUF metadata ("<arch>.embedding_length", ...). GGUF "llama" checkpoints store q/k rows
// permuted for interleaved-pair rope; qwen2/qwen3 use NeoX halves.
ModelConfig config_from_gguf(const GgufFile& gguf);
// From a Hugging Face config.json (model_type llama/mistral/qwen2/qwen3). HF weights use NeoX halves.
ModelConfig config_from_hf(const nlohmann::json& config, const std::string& source);

// Per-pair inverse frequencies [rot_dim / 2] with rope scaling applied; freq_factors (GGUF
// rope_freqs.weight, may be empty) divide them as llama.cpp does.
std::vector<float> rope_inv_freq(const ModelConfig& cfg, const std::vector<float>& freq_factors);

}  // namespace tokenmill
