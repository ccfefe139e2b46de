#include "plan/presets.h"

namespace tokenmill::plan {
namespace {

constexpr Preset kPresets[] = {
    {"Llama-3.1-8B", R"({"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
      "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
      "intermediate_size": 14336, "max_position_embeddings": 131072,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16"})",
     "meta-llama/Llama-3.1-8B config.json"},
    {"Llama-3.1-70B", R"({"model_type": "llama", "vocab_size": 128256, "hidden_size": 8192,
      "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
      "intermediate_size": 28672, "max_position_embeddings": 131072,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16"})",
     "meta-llama/Llama-3.1-70B config.json"},
    {"Mixtral-8x7B", R"({"model_type": "mixtral", "vocab_size": 32000, "hidden_size": 4096,
      "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
      "intermediate_size": 14336, "max_position_embeddings": 32768, "num_local_experts": 8,
      "num_experts_per_tok": 2, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})",
     "mistralai/Mixtral-8x7B-v0.1 config.json"},
    {"Qwen3-235B-A22B", R"({"model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 4096,
      "num_hidden_layers": 94, "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128,
      "intermediate_size": 12288, "moe_intermediate_size": 1536, "num_experts": 128,
      "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
      "max_position_embeddings": 40960, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})",
     "Qwen/Qwen3-235B-A22B config.json"},
    {"DeepSeek-V3", R"({"model_type": "deepseek_v3", "vocab_size": 129280, "hidden_size": 7168,
      "num_hidden_layers": 61, "num_attention_heads": 128, "num_key_value_heads": 128,
      "intermediate_size": 18432, "moe_intermediate_size": 2048, "n_routed_experts": 256,
      "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3,
      "moe_layer_freq": 1, "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
      "qk_rope_head_dim": 64, "v_head_dim": 128, "max_position_embeddings": 163840,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16"})",
     "deepseek-ai/DeepSeek-V3 config.json (the multi-token-prediction layer is not counted)"},
    {"Kimi-K2", R"({"model_type": "kimi_k2", "vocab_size": 163840, "hidden_size": 7168,
      "num_hidden_layers": 61, "num_attention_heads": 64, "num_key_value_heads": 64,
      "intermediate_size": 18432, "moe_intermediate_size": 2048, "n_routed_experts": 384,
      "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 1,
      "moe_layer_freq": 1, "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
      "qk_rope_head_dim": 64, "v_head_dim": 128, "max_position_embeddings": 131072,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16"})",
     "moonshotai/Kimi-K2-Instruct config.json"},
    {"tokenmill-default", R"({"model_type": "llama", "vocab_size": 2421, "hidden_size": 384,
      "num_hidden_layers": 6, "num_attention_heads": 6, "num_key_value_heads": 2, "head_dim": 64,
      "intermediate_size": 1024, "max_position_embeddings": 2048, "tie_word_embeddings": false,
      "torch_dtype": "float16"})",
     "models/tokenmill-default-hf/config.json"},
    {"tokenmill-draft", R"({"model_type": "llama", "vocab_size": 2421, "hidden_size": 128,
      "num_hidden_layers": 4, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 64,
      "intermediate_size": 384, "max_position_embeddings": 2048, "tie_word_embeddings": false,
      "torch_dtype": "float16"})",
     "models/tokenmill-draft-hf/config.json"},
};

}  // namespace

std::span<const Preset> presets() { return kPresets; }

}  // namespace tokenmill::plan
