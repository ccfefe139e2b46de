// AVX-512 (F/BW) probes for machine_limits.cpp (see machine_limits_probes.h).
#include <immintrin.h>

#include <initializer_list>

#include "kernels/machine_limits_probes.h"

namespace tokenmill::kernels::avx512 {
namespace {

// Lane sum through memory (the reduce intrinsics trip GCC 12's -Wuninitialized).
float sum_lanes(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float total = 0;
  for (float x : lanes) total += x;
  return total;
}

float read_sum(const float* data, size_t n) {
  // 8 independent accumulators: 128 floats (512 bytes, 8 cache lines) per round.
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(data + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(data + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(data + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(data + i + 48));
    s4 = _mm512_add_ps(s4, _mm512_load_ps(data + i + 64));
    s5 = _mm512_add_ps(s5, _mm512_load_ps(data + i + 80));
    s6 = _mm512_add_ps(s6, _mm512_load_ps(data + i + 96));
    s7 = _mm512_add_ps(s7, _mm512_load_ps(data + i + 112));
  }
  const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                                 _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7)));
  float total = sum_lanes(s);
  for (; i < n; ++i) total += data[i];
  return total;
}

// 16 chains of vfmadd231ps zmm: covers two FMA ports x latency 4 with room to spare (32 zmm).
constexpr int kFmaChains = 16;

float f32_fma(uint64_t iterations) {
  const __m512 x = _mm512_set1_ps(1.0f / 1024), y = _mm512_set1_ps(1.0f / 1024);
  __m512 a0 = _mm512_set1_ps(0.0f), a1 = _mm512_set1_ps(1.0f), a2 = _mm512_set1_ps(2.0f),
         a3 = _mm512_set1_ps(3.0f), a4 = _mm512_set1_ps(4.0f), a5 = _mm512_set1_ps(5.0f),
         a6 = _mm512_set1_ps(6.0f), a7 = _mm512_set1_ps(7.0f), a8 = _mm512_set1_ps(8.0f),
         a9 = _mm512_set1_ps(9.0f), a10 = _mm512_set1_ps(10.0f), a11 = _mm512_set1_ps(11.0f),
         a12 = _mm512_set1_ps(12.0f), a13 = _mm512_set1_ps(13.0f), a14 = _mm512_set1_ps(14.0f),
         a15 = _mm512_set1_ps(15.0f);
  for (uint64_t it = 0; it < iterations; ++it) {
    a0 = _mm512_fmadd_ps(x, y, a0);
    a1 = _mm512_fmadd_ps(x, y, a1);
    a2 = _mm512_fmadd_ps(x, y, a2);
    a3 = _mm512_fmadd_ps(x, y, a3);
    a4 = _mm512_fmadd_ps(x, y, a4);
    a5 = _mm512_fmadd_ps(x, y, a5);
    a6 = _mm512_fmadd_ps(x, y, a6);
    a7 = _mm512_fmadd_ps(x, y, a7);
    a8 = _mm512_fmadd_ps(x, y, a8);
    a9 = _mm512_fmadd_ps(x, y, a9);
    a10 = _mm512_fmadd_ps(x, y, a10);
    a11 = _mm512_fmadd_ps(x, y, a11);
    a12 = _mm512_fmadd_ps(x, y, a12);
    a13 = _mm512_fmadd_ps(x, y, a13);
    a14 = _mm512_fmadd_ps(x, y, a14);
    a15 = _mm512_fmadd_ps(x, y, a15);
  }
  const __m512 s01 = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
  const __m512 s23 = _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7));
  const __m512 s45 = _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11));
  const __m512 s67 = _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15));
  return sum_lanes(_mm512_add_ps(_mm512_add_ps(s01, s23), _mm512_add_ps(s45, s67)));
}

// 8 chains of vpmaddubsw + vpmaddwd + vpaddd on zmm (AVX-512BW without VNNI).
constexpr int kInt8Chains = 8;

int64_t int8_dot(uint64_t iterations) {
  __m512i a = _mm512_set1_epi8(1);  // u8 operand
  const __m512i b = _mm512_set1_epi8(1), ones = _mm512_set1_epi16(1);
  // Chain k starts at k in every lane: identical chains would be merged into one by the compiler.
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2),
          c3 = _mm512_set1_epi32(3), c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5),
          c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7);
  // The empty asm makes `a` look rewritten between steps, so the product is neither hoisted out
  // of the loop nor shared between chains; it emits no instruction.
#define TOKENMILL_INT8_STEP(acc)                                                    \
  acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(a, b), ones)); \
  asm volatile("" : "+v"(a))
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
  int64_t total = -int64_t(16 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7));  // the chains' start values
  for (__m512i c : {c0, c1, c2, c3, c4, c5, c6, c7}) {
    // Lane sums in 64 bits: 16 lanes of a long pass may exceed int32 together.
    alignas(64) int32_t lanes[16];
    _mm512_store_si512(lanes, c);
    for (int32_t v : lanes) total += v;
  }
  return total;
}

}  // namespace

LimitProbes limit_probes() {
  return LimitProbes{"avx512",
                     read_sum,
                     f32_fma,
                     double(kFmaChains * 16 * 2),
                     int8_dot,
                     double(kInt8Chains * 64),
                     "vpmaddubsw+vpmaddwd"};
}

}  // namespace tokenmill::kernels::avx512
