// Binding of a checkpoint's tensors to the Llama-family layer structure. Names are normalized to
// GGUF's (token_embd.weight, blk.N.attn_q.weight, ...) so one forward serves both file kinds.
// Matrices stay in the mapped file (never copied); small vectors (norms, biases) become f32.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/thread_pool.h"
#include "formats/tensor_info.h"
#include "model/model_config.h"

namespace tokenmill {

// What a quantized matrix is multiplied with: activations quantized to int8 blocks per matmul
// (kernels::matmul; W4A8 in effect for Q4_0, the fastest) or kept in f32 (kernels::matmul_float_act:
// weight-only quantization, W4A16-style, the logits of a model's dequantized weights up to the
// order of f32 sums). Matrices of F32, F16 or BF16 always compute in f32.
enum class ActivationPrecision : uint8_t { Int8, Float };

// A weight matrix: w is [rows, cols] row-major in `dtype`, in the mapped file, or (dtype Q4_0_R16 /
// Q8_0_R16) repacked at load into a buffer of ModelWeights::repacked (kernels/repack.h).
struct MatrixRef {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;  // d_out
  int64_t cols = 0;  // d_in
  ActivationPrecision activations = ActivationPrecision::Int8;  // for quantized dtypes
  size_t row_bytes() const { return dtype_row_bytes(dtype, size_t(cols)); }
  size_t nbytes() const { return size_t(rows) * row_bytes(); }
};

struct LayerWeights {
  std::vector<float> attn_norm;              // [dim]
  MatrixRef wq, wk, wv, wo;                  // [q_dim, dim], [kv_dim, dim] x2, [dim, q_dim]
  std::vector<float> bq, bk, bv;             // [q_dim], [kv_dim], [kv_dim]; empty without qkv bias
  std::vector<float> q_norm, k_norm;         // [head_dim]; empty without qk norm
  std::vector<float> ffn_norm;               // [dim]
  MatrixRef w_gate, w_up, w_down;            // [ffn, dim], [ffn, dim], [dim, ffn]
};

struct ModelWeights {
  MatrixRef token_embd;                      // [vocab, dim]
  std::vector<float> output_norm;            // [dim]
  MatrixRef output;                          // [vocab, dim]; == token_embd when tied
  std::vector<LayerWeights> layers;
  std::vector<float> rope_freq_factors;      // [head_dim / 2] (GGUF rope_freqs.weight), may be empty
  size_t total_bytes = 0;                    // bytes of all bound tensors
  // Buffers of the matrices repacked at load, shared by copies of these weights.
  std::vector<std::shared_ptr<const AlignedBuffer>> repacked;
  size_t repacked_bytes = 0;
};

// Switches every quantized layer matrix and the LM head whose type has a float-activation kernel
// (kernels::has_float_act_matmul: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) to ActivationPrecision::Float.
// required: a quantized matrix of another type (a K-quant) throws Error naming `source`, the
// tensor and its type; otherwise that matrix keeps int8 activations. Call before repack_weights
// (matrices in a repacked layout throw Error). Returns the number of matrices switched.
size_t use_float_activations(ModelWeights& w, bool required, const std::string& source);

// The quantized matrices of a model (layers and LM head) by the activations they compute with.
struct ActivationUse {
  size_t float_matrices = 0, int8_matrices = 0;
  std::vector<DType> int8_types;  // distinct types of the int8 ones, in order of appearance
  // "float", "int8", "float+int8", or "none" (no quantized matrix).
  std::string mode() const;
  // One line for people, e.g. "float: 155 quantized matrices x f32 activations".
  std::string describe() const;
};
ActivationUse activation_use(const ModelWeights& w);

// Repacks every layer matrix and the (untied) output matrix of a type with a repacked layout
// (Q4_0, Q8_0; kernels/repack.h) when the active kernels prefer it; the token embedding, read by
// rows, stays, and so do matrices with float activations (their kernel reads the file's layout).
// release_mapped_source: the matrices are in a file mapping whose pages of each repacked matrix are then
// released from this process (never for heap memory, which it would zero). Returns the number of matrices
// repacked.
size_t repack_weights(ModelWeights& w, ThreadPool& pool, bool release_mapped_source);

// Looks a tensor up by its GGUF-style name; nullptr when absent.
using TensorLookup = std::function<const TensorInfo*(const std::string& gguf_name)>;

// Binds and shape-checks every tensor the config requires. `source` names the file in errors.
ModelWeights bind_weights(const ModelConfig& cfg, const TensorLookup& lookup, const std::string& source);

// The GGUF name of a Hugging Face tensor name (model.layers.3.self_attn.q_proj.weight ->
// blk.3.attn_q.weight); nullopt for names the Llama family does not use (e.g. rotary_emb.inv_freq).
std::optional<std::string> gguf_name_of_hf(const std::string& hf_name);

}  // namespace tokenmill
