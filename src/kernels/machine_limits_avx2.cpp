// AVX2 + FMA probes for machine_limits.cpp (see machine_limits_probes.h).
#include <immintrin.h>

#include <initializer_list>

#include "kernels/machine_limits_probes.h"

namespace tokenmill::kernels::avx2 {
namespace {

float read_sum(const float* data, size_t n) {
  // 8 independent accumulators: 64 floats (256 bytes) per round, enough loads in flight to
  // stream from memory without waiting on the add latency.
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(data + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(data + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(data + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(data + i + 24));
    s4 = _mm256_add_ps(s4, _mm256_load_ps(data + i + 32));
    s5 = _mm256_add_ps(s5, _mm256_load_ps(data + i + 40));
    s6 = _mm256_add_ps(s6, _mm256_load_ps(data + i + 48));
    s7 = _mm256_add_ps(s7, _mm256_load_ps(data + i + 56));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)),
                                 _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes) total += v;
  for (; i < n; ++i) total += data[i];
  return total;
}

// 12 chains of vfmadd231ps: two FMA ports x latency 4-5 cycles needs at least 10 in flight.
constexpr int kFmaChains = 12;

float f32_fma(uint64_t iterations) {
  const __m256 x = _mm256_set1_ps(1.0f / 1024), y = _mm256_set1_ps(1.0f / 1024);
  __m256 a0 = _mm256_set1_ps(0.0f), a1 = _mm256_set1_ps(1.0f), a2 = _mm256_set1_ps(2.0f),
         a3 = _mm256_set1_ps(3.0f), a4 = _mm256_set1_ps(4.0f), a5 = _mm256_set1_ps(5.0f),
         a6 = _mm256_set1_ps(6.0f), a7 = _mm256_set1_ps(7.0f), a8 = _mm256_set1_ps(8.0f),
         a9 = _mm256_set1_ps(9.0f), a10 = _mm256_set1_ps(10.0f), a11 = _mm256_set1_ps(11.0f);
  for (uint64_t it = 0; it < iterations; ++it) {
    a0 = _mm256_fmadd_ps(x, y, a0);
    a1 = _mm256_fmadd_ps(x, y, a1);
    a2 = _mm256_fmadd_ps(x, y, a2);
    a3 = _mm256_fmadd_ps(x, y, a3);
    a4 = _mm256_fmadd_ps(x, y, a4);
    a5 = _mm256_fmadd_ps(x, y, a5);
    a6 = _mm256_fmadd_ps(x, y, a6);
    a7 = _mm256_fmadd_ps(x, y, a7);
    a8 = _mm256_fmadd_ps(x, y, a8);
    a9 = _mm256_fmadd_ps(x, y, a9);
    a10 = _mm256_fmadd_ps(x, y, a10);
    a11 = _mm256_fmadd_ps(x, y, a11);
  }
  const __m256 s =
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                    _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                  _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

// 8 chains of the AVX2 int8 dot product used by quantized kernels: vpmaddubsw (u8 x s8 pairs to
// s16), vpmaddwd against ones (s16 pairs to s32), vpaddd into the accumulator.
constexpr int kInt8Chains = 8;

int64_t int8_dot(uint64_t iterations) {
  __m256i a = _mm256_set1_epi8(1);  // u8 operand
  const __m256i b = _mm256_set1_epi8(1), ones = _mm256_set1_epi16(1);
  // Chain k starts at k in every lane: identical chains would be merged into one by the compiler.
  __m256i c0 = _mm256_set1_epi32(0), c1 = _mm256_set1_epi32(1), c2 = _mm256_set1_epi32(2),
          c3 = _mm256_set1_epi32(3), c4 = _mm256_set1_epi32(4), c5 = _mm256_set1_epi32(5),
          c6 = _mm256_set1_epi32(6), c7 = _mm256_set1_epi32(7);
  // The empty asm makes `a` look rewritten between steps, so the product is neither hoisted out
  // of the loop nor shared between chains; it emits no instruction.
#define TOKENMILL_INT8_STEP(acc)                                                    \
  acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones)); \
  asm volatile("" : "+x"(a))
  for (uint64_t it = 0; it < iterations; ++it) {
    TOKENMILL_INT8_STEP(c0);
    TOKENMILL_INT8_STEP(c1);
    TOKENMILL_INT8_STEP(c2);
    TOKENMILL_INT8_STEP(c3);
    TOKENMILL_INT8_STEP(c4);
    TOKENMILL_INT8_STEP(c5);
    TOKENMILL_INT8_STEP(c6);
    TOKENMILL_INT8_STEP(c7);
  }
#undef TOKENMILL_INT8_STEP
  alignas(32) int32_t lanes[8];
  int64_t total = -int64_t(8 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7));  // the chains' start values
  for (__m256i c : {c0, c1, c2, c3, c4, c5, c6, c7}) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), c);
    for (int32_t v : lanes) total += v;
  }
  return total;
}

}  // namespace

LimitProbes limit_probes() {
  return LimitProbes{"avx2",
                     read_sum,
                     f32_fma,
                     double(kFmaChains * 8 * 2),
                     int8_dot,
                     double(kInt8Chains * 32),
                     "vpmaddubsw+vpmaddwd"};
}

}  // namespace tokenmill::kernels::avx2
