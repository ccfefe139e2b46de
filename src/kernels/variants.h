// Per-ISA kernel entry points (see kernel_table.h for the argument contracts). ref:: is the
// scalar specification; avx2::, avx512:: and avx512vnni:: exist only on x86-64, neon:: only on
// aarch64, and may only be called when the CPU has that ISA (kernel_table() checks this).
//
// Quantized kernels are registered per family (32-element blocks: Q4_0..Q8_0; K-quants:
// Q2_K..Q6_K) and ISA by add_quant32_kernels / add_quantk_kernels, which overwrite the entries
// they provide in a table that already holds the lower ISA's kernels.
#pragma once
#include "kernels/kernel_table.h"

namespace tokenmill::kernels {

#define TOKENMILL_KERNEL_VARIANT_DECLS                                                          \
  void matmul_rows(float* y, const float* x, const void* w, DType w_dtype, const float* bias,   \
                   size_t n_tokens, size_t d_in, size_t d_out, size_t row_begin,                \
                   size_t row_end);                                                             \
  void attention_items(float* out, const float* q, const int32_t* q_pos, const float* k_cache, \
                       const float* v_cache, size_t kv_row_stride, const int32_t* slots,        \
                       size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale,         \
                       size_t window, size_t item_begin, size_t item_end);                      \
  void attention_blocks(float* out, const float* q, const int32_t* q_pos, size_t n_q,           \
                        const float* k_cache, const float* v_cache, size_t kv_row_stride,       \
                        const int32_t* slots, size_t n_heads, size_t n_kv_heads,                \
                        size_t head_dim, float scale, size_t window, size_t unit_begin,         \
                        size_t unit_end);                                                       \
  void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim,      \
               float eps);                                                                      \
  void to_f32(float* out, const void* src, DType dtype, size_t n);                              \
  void swiglu(float* gate, const float* up, size_t n);                                          \
  void softmax(float* x, size_t n);

// The sampler's vocabulary loops.
#define TOKENMILL_SAMPLER_DECLS                                                             \
  int64_t argmax(const float* x, size_t n);                                                 \
  double sampling_weights(float* weights, const float* logits, size_t n, float max_logit, \
                          float temperature);

#define TOKENMILL_QUANT_REGISTRATION_DECLS   \
  void add_quant32_kernels(KernelTable& t); \
  void add_quantk_kernels(KernelTable& t);

// The float-activation matmul of the 32-element family (quant32f_*.cpp): AVX2, AVX-512 (which
// avx512vnni and amx inherit) and NEON; ref::add_quant32_kernels registers its specification.
#define TOKENMILL_QUANT_FLOAT_ACT_DECLS void add_quant32f_kernels(KernelTable& t);

namespace ref {
TOKENMILL_KERNEL_VARIANT_DECLS
TOKENMILL_SAMPLER_DECLS
TOKENMILL_QUANT_REGISTRATION_DECLS
// The rope spec; rope has no SIMD variant (sin/cos per pair dominate and are shared by heads).
void rope(float* x, const int32_t* positions, const float* inv_freq, size_t n_tokens,
          size_t n_heads, size_t head_dim, size_t rot_dim, RopeStyle style);
}  // namespace ref

#if defined(__x86_64__) || defined(_M_X64)
namespace avx2 {
TOKENMILL_KERNEL_VARIANT_DECLS
TOKENMILL_SAMPLER_DECLS
TOKENMILL_QUANT_REGISTRATION_DECLS
TOKENMILL_QUANT_FLOAT_ACT_DECLS
}  // namespace avx2
namespace avx512 {
TOKENMILL_KERNEL_VARIANT_DECLS
TOKENMILL_SAMPLER_DECLS
TOKENMILL_QUANT_REGISTRATION_DECLS
TOKENMILL_QUANT_FLOAT_ACT_DECLS
}  // namespace avx512
// AVX-512 with VNNI (vpdpbusd): only quantized kernels; the float ones are avx512's.
namespace avx512vnni {
TOKENMILL_QUANT_REGISTRATION_DECLS
}  // namespace avx512vnni
namespace amx {
void add_quant32_kernels(KernelTable& t);
}  // namespace amx
#endif

#if defined(__aarch64__)
namespace neon {
TOKENMILL_KERNEL_VARIANT_DECLS
TOKENMILL_SAMPLER_DECLS
TOKENMILL_QUANT_REGISTRATION_DECLS
TOKENMILL_QUANT_FLOAT_ACT_DECLS
}  // namespace neon
#endif

#undef TOKENMILL_KERNEL_VARIANT_DECLS
#undef TOKENMILL_QUANT_REGISTRATION_DECLS
#undef TOKENMILL_QUANT_FLOAT_ACT_DECLS
#undef TOKENMILL_SAMPLER_DECLS

}  // namespace tokenmill::kernels
