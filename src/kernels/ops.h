// Kernels: free functions over raw spans with explicit dimensions. Each dispatches once per call
// to the best variant for this CPU (core/cpu_features.h); the scalar versions in kernels/ref/ are
// the specification and every SIMD variant is tested against them.
//
// Conventions: row-major; a weight matrix w is [d_out, d_in] (one row per output feature) in the
// given storage dtype; activations are f32. Thread parallelism comes from the ThreadPool passed in.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace tokenmill::kernels {

// y[t, o] = sum_i x[t, i] * w[o, i]  (+ bias[o] when bias != nullptr)
// x: [n_tokens, d_in] f32, w: [d_out, d_in] in w_dtype (F32, F16, BF16 or a quantized type),
// bias: [d_out] f32, y: [n_tokens, d_out] f32. Reads each weight row once for all n_tokens.
// Quantized weights are used in place: x is quantized to int8 blocks (into scratch) and the dot
// products run on integers. scratch: matmul_scratch_bytes(...) bytes, or null to allocate per call.
void matmul(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
            size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool,
            void* scratch = nullptr);
// Scratch bytes matmul needs for n_tokens rows of d_in against weights of w_dtype (0 for floats).
size_t matmul_scratch_bytes(DType w_dtype, size_t n_tokens, size_t d_in);

// The same product for quantized weights with the activations kept in f32 (weight-only
// quantization: "W4A16" for Q4_0 in GPTQ/AWQ terms, with f32 activations on CPU). The weights are
// read in place in the file's layout and dequantized in registers, never into a copy in memory:
// y[t, o] = sum_i x[t, i] * dequant(w)[o, i] (+ bias[o]), where dequant(w) are exactly the f32
// values to_f32 gives, so the result differs from an f32 matmul over the dequantized matrix only in
// the order of the f32 sums. w_dtype: a type with has_float_act_matmul (Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0); others throw Error. Shapes as matmul; no scratch. Reads each weight row once per chunk of
// tokens (decode: once).
void matmul_float_act(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
                      size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool);
// Whether matmul_float_act has a kernel for weights of w_dtype (the same on every ISA).
bool has_float_act_matmul(DType w_dtype);

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight[:]
// x, out: [n_rows, dim] (may alias), weight: [dim] f32.
void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim, float eps);

// Converts n weight elements of type dtype (F32, F16, BF16 or quantized, n then a multiple of the
// block size) to f32. out: [n].
void to_f32(float* out, const void* src, DType dtype, size_t n);

enum class RopeStyle {
  Interleaved,  // rotate pairs (x[2i], x[2i+1]): GGUF "llama" layout (q/k rows permuted at convert)
  NeoxHalves,   // rotate (x[i], x[i + d/2]): Hugging Face rotate_half, GGUF qwen2/qwen3
};

// Rotates each head of x in place by its token's position.
// x: [n_tokens, n_heads, head_dim], positions: [n_tokens],
// inv_freq: [rot_dim / 2] radians per position for pair i (rope scaling already applied),
// rot_dim <= head_dim dimensions are rotated (the rest pass through).
void rope(float* x, const int32_t* positions, const float* inv_freq, size_t n_tokens,
          size_t n_heads, size_t head_dim, size_t rot_dim, RopeStyle style);

// gate[i] = silu(gate[i]) * up[i].  gate, up: [n] (gate is overwritten).
void swiglu(float* gate, const float* up, size_t n);

// In-place softmax of one row. x: [n].
void softmax(float* x, size_t n);

// The sampler's loops over the vocabulary. argmax: index of the largest x[i] (ties to the lowest
// index, NaN never wins), -1 when no element is > -inf. sampling_weights: weights[i] =
// exp((logits[i] - max_logit) / temperature) for finite logits, 0 for -inf/NaN; returns their sum.
int64_t argmax(const float* x, size_t n);
double sampling_weights(float* weights, const float* logits, size_t n, float max_logit,
                        float temperature);

// Causal self-attention for the query tokens of one sequence, reading K/V through a slot table:
// the K/V of the sequence's position p live at kv rows slots[p] of k_cache / v_cache.
// q: [n_q, n_heads, head_dim] f32 for positions q_pos[0..n_q),
// k_cache, v_cache: [n_slots, n_kv_heads, head_dim] f32 (row stride kv_row_stride floats),
// slots: [n_kv] slot of each position 0..n_kv-1 (n_kv = last query position + 1),
// out: [n_q, n_heads, head_dim].
// Query at position p attends to positions max(0, p - window + 1) .. p (window = 0: unlimited).
// GQA: query head h reads kv head h / (n_heads / n_kv_heads). Online softmax (one pass over K/V).
void attention(float* out, const float* q, const int32_t* q_pos, size_t n_q, const float* k_cache,
               const float* v_cache, size_t kv_row_stride, const int32_t* slots, size_t n_kv,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, size_t window,
               ThreadPool& pool);

}  // namespace tokenmill::kernels
