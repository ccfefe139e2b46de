// NEON (aarch64 Advanced SIMD) variants: 4 f32 lanes, a 4-row x 4-token matmul register tile
// (16 accumulators, 4 weight vectors and one x vector of the 32 vector registers). F16 weights
// widen with the baseline fcvtl; BF16 is the upper half of an f32, so a widening shift.
#include <arm_neon.h>

#include <cstring>

#include "kernels/sampler_simd.h"
#include "kernels/simd_kernels.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::neon {
namespace {

struct Neon {
  using F = float32x4_t;
  static constexpr size_t kWidth = 4;
  static constexpr size_t kTileRows = 4;
  static constexpr size_t kTileTokens = 4;

  // All-ones in the first n (<= 4) lanes.
  static uint32x4_t mask(size_t n) {
    const uint32x4_t lane = {0, 1, 2, 3};
    return vcltq_u32(lane, vdupq_n_u32(uint32_t(n)));
  }

  static F zero() { return vdupq_n_f32(0.0f); }
  static F set1(float v) { return vdupq_n_f32(v); }
  static F load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, F v) { vst1q_f32(p, v); }
  // NEON has no masked loads or stores: tails go through a lane buffer, never past p + n.
  static F load_partial(const float* p, size_t n) {
    float lanes[4] = {};
    std::memcpy(lanes, p, n * sizeof(float));
    return vld1q_f32(lanes);
  }
  static void store_partial(float* p, F v, size_t n) {
    float lanes[4];
    vst1q_f32(lanes, v);
    std::memcpy(p, lanes, n * sizeof(float));
  }
  static F keep_first(F v, size_t n) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), mask(n)));
  }
  static F load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static F load_f16_partial(const uint16_t* p, size_t n) {
    uint16_t lanes[4] = {};
    std::memcpy(lanes, p, n * sizeof(uint16_t));
    return load_f16(lanes);
  }
  static F load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static F load_bf16_partial(const uint16_t* p, size_t n) {
    uint16_t lanes[4] = {};
    std::memcpy(lanes, p, n * sizeof(uint16_t));
    return load_bf16(lanes);
  }
  static F add(F a, F b) { return vaddq_f32(a, b); }
  static F sub(F a, F b) { return vsubq_f32(a, b); }
  static F mul(F a, F b) { return vmulq_f32(a, b); }
  static F div(F a, F b) { return vdivq_f32(a, b); }
  static F fmadd(F a, F b, F c) { return vfmaq_f32(c, a, b); }
  // The "number" forms: a NaN operand yields the other operand, as x86's min/max do when the
  // NaN is the first operand (which is how exp clamps its input).
  static F min(F a, F b) { return vminnmq_f32(a, b); }
  static F max(F a, F b) { return vmaxnmq_f32(a, b); }
  static F round(F v) { return vrndnq_f32(v); }  // to nearest, ties to even
  // n is integral in [-126, 127]: build 2^n directly in the exponent field.
  static F mul_pow2(F y, F n) {
    const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(y, vreinterpretq_f32_s32(bits));
  }
  static F zero_unless_finite(F v, F x) {  // x - x is 0 exactly when x is finite
    return vreinterpretq_f32_u32(
        vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32(vsubq_f32(x, x), vdupq_n_f32(0.0f))));
  }
  static float reduce_add(F v) { return vaddvq_f32(v); }
  static float reduce_max(F v) { return vmaxnmvq_f32(v); }
  // Lane i = reduce_add(v[i]) for i < 4.
  static F reduce_add_each(const F* v) {
    return vpaddq_f32(vpaddq_f32(v[0], v[1]), vpaddq_f32(v[2], v[3]));
  }
};

}  // namespace

void matmul_rows(float* y, const float* x, const void* w, DType w_dtype, const float* bias, size_t n_tokens,
                 size_t d_in, size_t d_out, size_t row_begin, size_t row_end) {
  simd::matmul_rows<Neon>(y, x, w, w_dtype, bias, n_tokens, d_in, d_out, row_begin, row_end);
}

void attention_items(float* out, const float* q, const int32_t* q_pos, const float* k_cache,
                     const float* v_cache, size_t kv_row_stride, const int32_t* slots, size_t n_heads,
                     size_t n_kv_heads, size_t head_dim, float scale, size_t window, size_t item_begin,
                     size_t item_end) {
  simd::attention_items<Neon>(out, q, q_pos, k_cache, v_cache, kv_row_stride, slots, n_heads, n_kv_heads,
                              head_dim, scale, window, item_begin, item_end);
}

void attention_blocks(float* out, const float* q, const int32_t* q_pos, size_t n_q, const float* k_cache,
                      const float* v_cache, size_t kv_row_stride, const int32_t* slots, size_t n_heads,
                      size_t n_kv_heads, size_t head_dim, float scale, size_t window, size_t unit_begin,
                      size_t unit_end) {
  simd::attention_blocks<Neon>(out, q, q_pos, n_q, k_cache, v_cache, kv_row_stride, slots, n_heads, n_kv_heads,
                               head_dim, scale, window, unit_begin, unit_end);
}

void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim, float eps) {
  simd::rmsnorm<Neon>(out, x, weight, n_rows, dim, eps);
}

void to_f32(float* out, const void* src, DType dtype, size_t n) {
  simd::to_f32<Neon>(out, src, dtype, n);
}

void swiglu(float* gate, const float* up, size_t n) {
  simd::swiglu<Neon>(gate, up, n);
}

void softmax(float* x, size_t n) {
  simd::softmax<Neon>(x, n);
}

int64_t argmax(const float* x, size_t n) { return simd::argmax<Neon>(x, n); }

double sampling_weights(float* weights, const float* logits, size_t n, float max_logit,
                        float temperature) {
  return simd::sampling_weights<Neon>(weights, logits, n, max_logit, temperature);
}

}  // namespace tokenmill::kernels::neon
