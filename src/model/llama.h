// The Llama-family forward pass (Llama 2/3, Mistral, Qwen2, Qwen3), driven by ModelConfig.
// Activations live in buffers allocated once at construction for max_batch_tokens rows; forward()
// allocates nothing.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "model/forward_batch.h"
#include "model/kv_storage.h"
#include "model/model_config.h"
#include "model/op_profile.h"
#include "model/weights.h"

namespace tokenmill {

class LlamaModel {
 public:
  LlamaModel(ModelConfig cfg, ModelWeights weights, int32_t max_batch_tokens);

  const ModelConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return w_; }
  int32_t max_batch_tokens() const { return max_batch_tokens_; }
  // Bytes of the activation buffers and the int8 matmul scratch allocated at construction.
  size_t activation_bytes() const;

  // Runs one step: writes each token's K/V to its slot and returns logits of batch.logits_rows.
  // logits: [batch.logits_rows.size(), vocab_size]. Throws Error for an invalid batch
  // (too many tokens, token id out of range, slot out of range, inconsistent rows).
  void forward(const ForwardBatch& batch, KvStorage& kv, float* logits, ThreadPool& pool);

  // Attaches a per-op timer table filled by later forward() calls (null detaches). The profile
  // must outlive its attachment.
  void set_profile(OpProfile* profile) { profile_ = profile; }

 private:
  void validate(const ForwardBatch& batch, const KvStorage& kv) const;
  void attention_block(const LayerWeights& L, int64_t layer, const ForwardBatch& batch, KvStorage& kv,
                       size_t T, ThreadPool& pool);
  void ffn_block(const LayerWeights& L, size_t T, ThreadPool& pool);
  // x += out over T token rows.
  void add_residual(size_t T, ThreadPool& pool);
  // y = x . w^T (+ bias): through the matmul scratch (int8 activations), or with f32 activations
  // for a quantized matrix marked ActivationPrecision::Float.
  static bool uses_float_activations(const MatrixRef& w);
  void matmul(float* y, const float* x, const MatrixRef& w, const float* bias, size_t T, ThreadPool& pool);

  ModelConfig cfg_;
  ModelWeights w_;
  int32_t max_batch_tokens_;
  std::vector<float> inv_freq_;  // [head_dim / 2]

  // Activations, rows = tokens of the batch.
  std::vector<float> x_;       // [T, dim] residual stream
  std::vector<float> xb_;      // [T, dim] normed input of a block
  std::vector<float> q_;       // [T, q_dim]
  std::vector<float> k_;       // [T, kv_dim]
  std::vector<float> v_;       // [T, kv_dim]
  std::vector<float> att_;     // [T, q_dim]
  std::vector<float> gate_;    // [T, ffn]
  std::vector<float> up_;      // [T, ffn]
  std::vector<float> out_;     // [T, dim] output of a projection before the residual add
  std::vector<int32_t> slots_; // [max_context] slot of each cached position of one sequence
  std::vector<std::byte> matmul_scratch_;  // int8 activation blocks for quantized weights (int8 activations)
  OpProfile* profile_ = nullptr;
};

}  // namespace tokenmill
