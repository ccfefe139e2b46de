// Run-time choice of kernel variant. Each ISA (scalar reference, AVX2, AVX-512) provides the same
// set of "row-range" kernels; the ops in ops.h split work across the pool and call the variant of
// the table chosen once from select_isa(). Tests and benchmarks pass a table explicitly to run
// every variant on one machine.
#pragma once
#include <cstddef>
#include <cstdint>

#include <array>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"

namespace tokenmill::kernels {

// Largest head_dim attention supports: its per-thread accumulator is a stack buffer of this size.
inline constexpr size_t kMaxHeadDim = 256;

// Computes output rows [row_begin, row_end) of matmul for every token.
// x: [n_tokens, d_in] f32, w: [d_out, d_in] in w_dtype, bias: [d_out] or null, y: [n_tokens, d_out].
using MatmulRowsFn = void (*)(float* y, const float* x, const void* w, DType w_dtype,
                              const float* bias, size_t n_tokens, size_t d_in, size_t d_out,
                              size_t row_begin, size_t row_end);

// Attention work is split into items of up to kAttentionHeadsPerItem query heads that share one
// kv head, so each K/V row is read from memory once for all of them (GQA), not once per head.
// item = (query_index * n_kv_heads + kv_head) * subgroups + subgroup, where
// subgroups = ceil((n_heads / n_kv_heads) / kAttentionHeadsPerItem).
inline constexpr size_t kAttentionHeadsPerItem = 8;

struct AttentionItem {
  size_t query;       // index into q / q_pos
  size_t kv_head;     // kv head read by every head of the item
  size_t head_begin;  // first query head
  size_t n_heads;     // query heads in the item, 1..kAttentionHeadsPerItem
};

inline size_t attention_subgroups(size_t n_heads, size_t n_kv_heads) {
  return (n_heads / n_kv_heads + kAttentionHeadsPerItem - 1) / kAttentionHeadsPerItem;
}
inline size_t attention_item_count(size_t n_q, size_t n_heads, size_t n_kv_heads) {
  return n_q * n_kv_heads * attention_subgroups(n_heads, n_kv_heads);
}
inline AttentionItem attention_item(size_t item, size_t n_heads, size_t n_kv_heads) {
  const size_t group = n_heads / n_kv_heads, subgroups = attention_subgroups(n_heads, n_kv_heads);
  const size_t subgroup = item % subgroups, query_kv = item / subgroups;
  const size_t kv_head = query_kv % n_kv_heads;
  const size_t first_in_group = subgroup * kAttentionHeadsPerItem;
  const size_t left = group - first_in_group;
  return {query_kv / n_kv_heads, kv_head, kv_head * group + first_in_group,
          left < kAttentionHeadsPerItem ? left : kAttentionHeadsPerItem};
}

// Prefill attention works on blocks of queries: unit = (query block, kv head, head subgroup), as an
// AttentionItem with its one query replaced by queries [query_begin, query_begin + n_queries).
// Each block of keys is then read (and K transposed) once for every query and head of the unit.
// unit = (query_block * n_kv_heads + kv_head) * subgroups + subgroup.
inline constexpr size_t kAttentionQueryBlock = 8;

struct AttentionBlockItem {
  size_t query_begin, n_queries;  // queries [query_begin, query_begin + n_queries)
  size_t kv_head, head_begin, n_heads;
};

inline size_t attention_block_count(size_t n_q, size_t n_heads, size_t n_kv_heads) {
  return (n_q + kAttentionQueryBlock - 1) / kAttentionQueryBlock * n_kv_heads *
         attention_subgroups(n_heads, n_kv_heads);
}
inline AttentionBlockItem attention_block_item(size_t unit, size_t n_q, size_t n_heads, size_t n_kv_heads) {
  const size_t per_block = n_kv_heads * attention_subgroups(n_heads, n_kv_heads);
  const AttentionItem it = attention_item(unit % per_block, n_heads, n_kv_heads);  // of query 0
  const size_t q0 = unit / per_block * kAttentionQueryBlock;
  const size_t left = n_q - q0;
  return {q0, left < kAttentionQueryBlock ? left : kAttentionQueryBlock, it.kv_head, it.head_begin, it.n_heads};
}

// Computes attention items [item_begin, item_end) (see AttentionItem).
// Arguments as in ops.h attention(); inputs are already validated.
using AttentionItemsFn = void (*)(float* out, const float* q, const int32_t* q_pos,
                                  const float* k_cache, const float* v_cache,
                                  size_t kv_row_stride, const int32_t* slots, size_t n_heads,
                                  size_t n_kv_heads, size_t head_dim, float scale, size_t window,
                                  size_t item_begin, size_t item_end);

// Computes attention units [unit_begin, unit_end) (see AttentionBlockItem) of n_q queries.
using AttentionBlocksFn = void (*)(float* out, const float* q, const int32_t* q_pos, size_t n_q,
                                   const float* k_cache, const float* v_cache, size_t kv_row_stride,
                                   const int32_t* slots, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                   float scale, size_t window, size_t unit_begin, size_t unit_end);

// x, out: [n_rows, dim], weight: [dim].
using RmsnormFn = void (*)(float* out, const float* x, const float* weight, size_t n_rows,
                           size_t dim, float eps);
// out: [n], src: [n] in dtype.
using ToF32Fn = void (*)(float* out, const void* src, DType dtype, size_t n);
// gate, up: [n].
using SwigluFn = void (*)(float* gate, const float* up, size_t n);
// x: [n].
using SoftmaxFn = void (*)(float* x, size_t n);

// Quantized weights (quant_blocks.h). A row is d_in elements (a multiple of the block size).
// Quantizes n_rows rows of activations x: [n_rows, d_in] f32 into dst (n_rows rows of
// act_row_bytes(w, d_in) bytes: BlockQ8A32 rows for the 32-block types, BlockQ8K rows for K).
using QuantizeActFn = void (*)(void* dst, const float* x, size_t n_rows, size_t d_in);
// Computes output rows [row_begin, row_end) for every token of y = xq . w^T (+ bias):
// xq: n_tokens quantized activation rows (above), w: [d_out] rows of the kernel's weight type,
// bias: [d_out] f32 or null, y: [n_tokens, d_out] f32.
using QMatmulRowsFn = void (*)(float* y, const void* xq, const void* w, const float* bias,
                               size_t n_tokens, size_t d_in, size_t d_out, size_t row_begin,
                               size_t row_end);
// Computes output rows [row_begin, row_end) for every token of y = x . dequant(w)^T (+ bias) with
// the activations kept in f32 (weight-only quantization): x: [n_tokens, d_in] f32, w: [d_out]
// rows of the kernel's weight type in the file's layout (never repacked), bias: [d_out] f32 or
// null, y: [n_tokens, d_out] f32. Each weight is dequantized in registers to exactly the f32 value
// DequantizeFn gives, so only the order of the f32 sums differs from x . dequantize(w)^T.
using FMatmulRowsFn = void (*)(float* y, const float* x, const void* w, const float* bias, size_t n_tokens,
                               size_t d_in, size_t d_out, size_t row_begin, size_t row_end);
// Dequantizes n elements (a multiple of the block size) of one weight type to f32.
using DequantizeFn = void (*)(float* out, const void* src, size_t n);

// Index of the largest of x[0..n) (ties: lowest index; NaN never wins); -1 when none > -inf.
using ArgmaxFn = int64_t (*)(const float* x, size_t n);
// weights[i] = logits[i] finite ? exp((logits[i] - max_logit) / temperature) : 0; returns the sum.
using SamplingWeightsFn = double (*)(float* weights, const float* logits, size_t n,
                                     float max_logit, float temperature);

struct KernelTable {
  Isa isa;
  MatmulRowsFn matmul_rows;
  AttentionItemsFn attention_items;
  RmsnormFn rmsnorm;
  ToF32Fn to_f32;  // F32, F16, BF16 only; quantized types go through dequantize[]
  SwigluFn swiglu;
  SoftmaxFn softmax;
  QuantizeActFn quantize_q8a32;  // activations for Q4_0 .. Q8_0
  QuantizeActFn quantize_q8k;    // activations for Q2_K .. Q6_K
  std::array<QMatmulRowsFn, kQuantKernelCount> qmatmul_rows;  // by quant_index()
  // by quant_index(); null for the repacked layouts (rows interleaved: see kernels/repack.h)
  std::array<DequantizeFn, kQuantKernelCount> dequantize;
  ArgmaxFn argmax;
  SamplingWeightsFn sampling_weights;
  // Whether this ISA's matmul is faster on the repacked layouts than on the file's: the model
  // repacks Q4_0 / Q8_0 matrices at load only then.
  bool prefers_repacked = false;
  AttentionBlocksFn attention_blocks;
  // by quant_index(); float-activation matmul of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, null for the others
  // (K-quants, repacked layouts)
  std::array<FMatmulRowsFn, kQuantKernelCount> fmatmul_rows{};
};

// Where an ISA has no variant of a kernel, its table holds the next lower ISA's (x86-64:
// avx512vnni -> avx512 -> avx2 -> scalar; neon -> scalar); see variants.h.

// The table of one ISA. Throws Error when this build or this CPU lacks it.
const KernelTable& kernel_table(Isa isa);
// The table chosen from select_isa() at first use (then fixed for the life of the process).
const KernelTable& active_kernel_table();

// The ops of ops.h with an explicit variant; same arguments and checks.
void matmul(const KernelTable& k, float* y, const float* x, const void* w, DType w_dtype,
            const float* bias, size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool,
            void* scratch = nullptr);
void matmul_float_act(const KernelTable& k, float* y, const float* x, const void* w, DType w_dtype,
                      const float* bias, size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool);
bool has_float_act_matmul(const KernelTable& k, DType w_dtype);
void rmsnorm(const KernelTable& k, float* out, const float* x, const float* weight,
             size_t n_rows, size_t dim, float eps);
void to_f32(const KernelTable& k, float* out, const void* src, DType dtype, size_t n);
// Quantizes activations for weights of type w_dtype (see QuantizeActFn).
void quantize_activations(const KernelTable& k, void* dst, const float* x, DType w_dtype,
                          size_t n_rows, size_t d_in);
void swiglu(const KernelTable& k, float* gate, const float* up, size_t n);
int64_t argmax(const KernelTable& k, const float* x, size_t n);
double sampling_weights(const KernelTable& k, float* weights, const float* logits, size_t n,
                        float max_logit, float temperature);
void softmax(const KernelTable& k, float* x, size_t n);
void attention(const KernelTable& k, float* out, const float* q, const int32_t* q_pos,
               size_t n_q, const float* k_cache, const float* v_cache, size_t kv_row_stride,
               const int32_t* slots, size_t n_kv, size_t n_heads, size_t n_kv_heads,
               size_t head_dim, float scale, size_t window, ThreadPool& pool);

}  // namespace tokenmill::kernels
