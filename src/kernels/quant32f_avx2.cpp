// AVX2 float-activation matmul of the 32-element family (quant32f_simd.h): 8 f32 lanes, register
// tiles of 2 rows x 4 tokens (8 accumulators, 2 weight vectors and the blocks' scales of the 16 ymm
// registers; 4 rows x 2 tokens spill and run a third slower in decode and prefill alike). Each part of 8 weights is 8 code bytes widened to dwords (vpmovzxbd), masked or
// shifted to one nibble (plus Q5's fifth bit from qh), converted, and scaled:
// fma(q, d, -8 d) for Q4_0 (-16 d for Q5_0) rounds d * q - 8 d = d * (q - 8) once, exactly as the
// scalar dequantization's d * (q - 8); Q4_1 / Q5_1 round d * q, then add m, as it does.
#include <immintrin.h>

#include <cstring>

#include "kernels/quant32f_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx2 {
namespace {

struct Avx2F {
  using F = __m256;
  static constexpr size_t kWidth = 8, kTileRows = 2, kTileTokens = 4;

  static F zero() { return _mm256_setzero_ps(); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static float reduce_add(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

  static float f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
  }
  template <DType WT>
  static void load_scales(const uint8_t* first, size_t n, float* d, float* m) {
    constexpr size_t BS = q32f::block_bytes<WT>();
    for (size_t j = 0; j < n; ++j) {
      d[j] = f16(first + j * BS);
      if constexpr (q32f::has_min<WT>()) m[j] = f16(first + j * BS + 2);
    }
  }
  // 8 bytes at p widened to dwords.
  static __m256i bytes_u32(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }

  template <DType WT>
  struct Block;
};

// Q4_0, Q4_1, Q5_0, Q5_1: part K holds elements 8 K .. 8 K + 7, the low (K < 2) or high nibbles of
// code bytes 8 (K % 2) .. 8 (K % 2) + 7, with Q5's fifth bits = bits 8 K .. 8 K + 7 of qh.
template <DType WT, class B>
struct Nibbles {
  static constexpr bool kFive = WT == DType::Q5_0 || WT == DType::Q5_1;
  static constexpr bool kMin = WT == DType::Q4_1 || WT == DType::Q5_1;
  const uint8_t* qs;
  __m256 d, offset;  // offset: -8 d (Q4_0), -16 d (Q5_0) or m
  uint32_t qh;
  void load(const uint8_t* block, const float* d_ptr, const float* m_ptr) {
    const float scale = *d_ptr;
    d = _mm256_set1_ps(scale);
    if constexpr (kMin)
      offset = _mm256_set1_ps(*m_ptr);
    else
      offset = _mm256_set1_ps(scale * (kFive ? -16.0f : -8.0f));  // exact: a power of two
    if constexpr (kFive) std::memcpy(&qh, block + offsetof(B, qh), 4);
    qs = block + offsetof(B, qs);
  }
  template <size_t K>
  __m256 part() const {
    const __m256i bytes = Avx2F::bytes_u32(qs + 8 * (K % 2));
    __m256i q = K < 2 ? _mm256_and_si256(bytes, _mm256_set1_epi32(15)) : _mm256_srli_epi32(bytes, 4);
    if constexpr (kFive) {
      const __m256i bits = _mm256_srlv_epi32(_mm256_set1_epi32(int32_t(qh >> (8 * K))),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      q = _mm256_or_si256(q, _mm256_slli_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), 4));
    }
    const __m256 qf = _mm256_cvtepi32_ps(q);
    if constexpr (kMin)
      return _mm256_add_ps(_mm256_mul_ps(qf, d), offset);
    else
      return _mm256_fmadd_ps(qf, d, offset);
  }
};

template <>
struct Avx2F::Block<DType::Q4_0> : Nibbles<DType::Q4_0, BlockQ4_0> {};
template <>
struct Avx2F::Block<DType::Q4_1> : Nibbles<DType::Q4_1, BlockQ4_1> {};
template <>
struct Avx2F::Block<DType::Q5_0> : Nibbles<DType::Q5_0, BlockQ5_0> {};
template <>
struct Avx2F::Block<DType::Q5_1> : Nibbles<DType::Q5_1, BlockQ5_1> {};
template <>
struct Avx2F::Block<DType::Q8_0> {
  const int8_t* qs;
  __m256 d;
  void load(const uint8_t* block, const float* d_ptr, const float*) {
    d = _mm256_set1_ps(*d_ptr);
    qs = reinterpret_cast<const int8_t*>(block + offsetof(BlockQ8_0, qs));
  }
  template <size_t K>
  __m256 part() const {
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8 * K));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d);
  }
};

}  // namespace

void add_quant32f_kernels(KernelTable& t) {
  q32f::add_kernels<Avx2F>(t);
}

}  // namespace tokenmill::kernels::avx2
