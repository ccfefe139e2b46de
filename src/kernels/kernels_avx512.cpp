// AVX-512 (F, BW, VL, DQ) variants: 16 f32 lanes, masked loads/stores for every tail, a 4-row x
// 4-token matmul register tile (16 accumulators of the 32 zmm registers).
// GCC 12's AVX-512 headers build some results from a self-initialized "undefined" vector and then
// warn about it at every inlined use (GCC bug 105593, fixed in GCC 13): silence only that here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/sampler_simd.h"
#include "kernels/simd_kernels.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx512 {
namespace {

struct Avx512 {
  using F = __m512;
  static constexpr size_t kWidth = 16;
  static constexpr size_t kTileRows = 4;
  static constexpr size_t kTileTokens = 4;

  static __mmask16 mask(size_t n) { return __mmask16((1u << n) - 1u); }  // n <= 16

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F load_partial(const float* p, size_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_partial(float* p, F v, size_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static F keep_first(F v, size_t n) { return _mm512_maskz_mov_ps(mask(n), v); }
  // F16 -> f32 is exact; F16C does 16 halves per instruction.
  static F load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F load_f16_partial(const uint16_t* p, size_t n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask(n), p));
  }
  // BF16 is the upper half of an f32: widen and shift.
  static F from_bf16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static F load_bf16(const uint16_t* p) {
    return from_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F load_bf16_partial(const uint16_t* p, size_t n) {
    return from_bf16(_mm256_maskz_loadu_epi16(mask(n), p));
  }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F round(F v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F mul_pow2(F y, F n) { return _mm512_scalef_ps(y, n); }
  static F zero_unless_finite(F v, F x) {  // fpclass 0x99: QNaN, +inf, -inf, SNaN
    return _mm512_maskz_mov_ps(__mmask16(~_mm512_fpclass_ps_mask(x, 0x99)), v);
  }
  static float reduce_add(F v) { return _mm512_reduce_add_ps(v); }
  static float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
  // Lane i = reduce_add(v[i]) for i < 16: a tree of 15 shuffle-and-add combines instead of 16
  // separate reductions. The tree leaves lane (q, l) (quarter q, lane l in it) holding the input
  // whose index has bits 0<->1 and 2<->3 swapped, so the inputs are read in that order.
  static F reduce_add_each(const F* v) {
    constexpr int kSwap[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};
    F w[8], x[4], y[2];
    for (int j = 0; j < 8; ++j) {  // halves: lanes 0-7 partials of input j, 8-15 of j + 8
      const F a = v[kSwap[j]], b = v[kSwap[j + 8]];
      w[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    for (int j = 0; j < 4; ++j) {  // quarters: inputs j, j + 8, j + 4, j + 12
      x[j] = _mm512_add_ps(_mm512_shuffle_f32x4(w[j], w[j + 4], _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm512_shuffle_f32x4(w[j], w[j + 4], _MM_SHUFFLE(3, 1, 3, 1)));
    }
    for (int j = 0; j < 2; ++j) {  // per quarter: two lanes of x[j], two of x[j + 2]
      y[j] = _mm512_add_ps(_mm512_shuffle_ps(x[j], x[j + 2], _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm512_shuffle_ps(x[j], x[j + 2], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    return _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
};

}  // namespace

void matmul_rows(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
                 size_t n_tokens, size_t d_in, size_t d_out, size_t row_begin, size_t row_end) {
  simd::matmul_rows<Avx512>(y, x, w, w_dtype, bias, n_tokens, d_in, d_out, row_begin, row_end);
}

void attention_items(float* out, const float* q, const int32_t* q_pos, const float* k_cache,
                     const float* v_cache, size_t kv_row_stride, const int32_t* slots,
                     size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale,
                     size_t window, size_t item_begin, size_t item_end) {
  simd::attention_items<Avx512>(out, q, q_pos, k_cache, v_cache, kv_row_stride, slots, n_heads,
                                n_kv_heads, head_dim, scale, window, item_begin, item_end);
}

void attention_blocks(float* out, const float* q, const int32_t* q_pos, size_t n_q, const float* k_cache,
                      const float* v_cache, size_t kv_row_stride, const int32_t* slots, size_t n_heads,
                      size_t n_kv_heads, size_t head_dim, float scale, size_t window, size_t unit_begin,
                      size_t unit_end) {
  simd::attention_blocks<Avx512>(out, q, q_pos, n_q, k_cache, v_cache, kv_row_stride, slots, n_heads, n_kv_heads,
                             head_dim, scale, window, unit_begin, unit_end);
}

void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim,
             float eps) {
  simd::rmsnorm<Avx512>(out, x, weight, n_rows, dim, eps);
}

void to_f32(float* out, const void* src, DType dtype, size_t n) {
  simd::to_f32<Avx512>(out, src, dtype, n);
}

void swiglu(float* gate, const float* up, size_t n) { simd::swiglu<Avx512>(gate, up, n); }

void softmax(float* x, size_t n) { simd::softmax<Avx512>(x, n); }

int64_t argmax(const float* x, size_t n) { return simd::argmax<Avx512>(x, n); }

double sampling_weights(float* weights, const float* logits, size_t n, float max_logit,
                        float temperature) {
  return simd::sampling_weights<Avx512>(weights, logits, n, max_logit, temperature);
}

}  // namespace tokenmill::kernels::avx512
