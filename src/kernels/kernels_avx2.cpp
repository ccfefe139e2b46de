// AVX2 + FMA + F16C variants: 8 f32 lanes, a 4-row x 2-token matmul register tile (8 accumulators,
// 4 weight vectors and one x vector fit in the 16 ymm registers without spilling).
#include <immintrin.h>

#include <cstring>

#include "kernels/sampler_simd.h"
#include "kernels/simd_kernels.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx2 {
namespace {

struct Avx2 {
  using F = __m256;
  static constexpr size_t kWidth = 8;
  static constexpr size_t kTileRows = 4;
  static constexpr size_t kTileTokens = 2;

  // All-ones in the first n (<= 8) 32-bit lanes.
  static __m256i mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F load_partial(const float* p, size_t n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store_partial(float* p, F v, size_t n) { _mm256_maskstore_ps(p, mask(n), v); }
  static F keep_first(F v, size_t n) { return _mm256_and_ps(v, _mm256_castsi256_ps(mask(n))); }
  static F load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // AVX2 has no 16-bit masked load: copy the tail into a zeroed lane buffer.
  static F load_f16_partial(const uint16_t* p, size_t n) {
    uint16_t lanes[8] = {};
    std::memcpy(lanes, p, n * sizeof(uint16_t));
    return load_f16(lanes);
  }
  static F load_bf16(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static F load_bf16_partial(const uint16_t* p, size_t n) {
    uint16_t lanes[8] = {};
    std::memcpy(lanes, p, n * sizeof(uint16_t));
    return load_bf16(lanes);
  }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F round(F v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // n is integral in [-126, 127]: build 2^n directly in the exponent field.
  static F mul_pow2(F y, F n) {
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
  }
  static F zero_unless_finite(F v, F x) {  // x - x is 0 exactly when x is finite
    return _mm256_and_ps(v, _mm256_cmp_ps(_mm256_sub_ps(x, x), _mm256_setzero_ps(), _CMP_EQ_OQ));
  }
  static float reduce_add(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(F v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  // Lane i = reduce_add(v[i]) for i < 8, sharing the shuffles of all 8 reductions.
  static F reduce_add_each(const F* v) {
    // Per 128-bit half: lane i holds input i's sum over that half's 4 lanes (i < 4).
    const F s0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    const F s1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(s0, s1, 0x20), _mm256_permute2f128_ps(s0, s1, 0x31));
  }
};

}  // namespace

void matmul_rows(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
                 size_t n_tokens, size_t d_in, size_t d_out, size_t row_begin, size_t row_end) {
  simd::matmul_rows<Avx2>(y, x, w, w_dtype, bias, n_tokens, d_in, d_out, row_begin, row_end);
}

void attention_items(float* out, const float* q, const int32_t* q_pos, const float* k_cache,
                     const float* v_cache, size_t kv_row_stride, const int32_t* slots,
                     size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale,
                     size_t window, size_t item_begin, size_t item_end) {
  simd::attention_items<Avx2>(out, q, q_pos, k_cache, v_cache, kv_row_stride, slots, n_heads,
                              n_kv_heads, head_dim, scale, window, item_begin, item_end);
}

void attention_blocks(float* out, const float* q, const int32_t* q_pos, size_t n_q, const float* k_cache,
                      const float* v_cache, size_t kv_row_stride, const int32_t* slots, size_t n_heads,
                      size_t n_kv_heads, size_t head_dim, float scale, size_t window, size_t unit_begin,
                      size_t unit_end) {
  simd::attention_blocks<Avx2>(out, q, q_pos, n_q, k_cache, v_cache, kv_row_stride, slots, n_heads, n_kv_heads,
                             head_dim, scale, window, unit_begin, unit_end);
}

void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim,
             float eps) {
  simd::rmsnorm<Avx2>(out, x, weight, n_rows, dim, eps);
}

void to_f32(float* out, const void* src, DType dtype, size_t n) {
  simd::to_f32<Avx2>(out, src, dtype, n);
}

void swiglu(float* gate, const float* up, size_t n) { simd::swiglu<Avx2>(gate, up, n); }

void softmax(float* x, size_t n) { simd::softmax<Avx2>(x, n); }

int64_t argmax(const float* x, size_t n) { return simd::argmax<Avx2>(x, n); }

double sampling_weights(float* weights, const float* logits, size_t n, float max_logit,
                        float temperature) {
  return simd::sampling_weights<Avx2>(weights, logits, n, max_logit, temperature);
}

}  // namespace tokenmill::kernels::avx2
