// AVX-512 VNNI probes for machine_limits.cpp: the int8 loop is vpdpbusd (u8 x s8, four products
// summed into each s32 lane in one instruction); reads and f32 are the AVX-512 ones.
#include <immintrin.h>

#include <initializer_list>

#include "kernels/machine_limits_probes.h"

namespace tokenmill::kernels::avx512vnni {
namespace {

// 16 chains of vpdpbusd zmm: latency 5 cycles on up to two ports needs at least 10 in flight.
constexpr int kInt8Chains = 16;

int64_t int8_dot(uint64_t iterations) {
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1);  // u8, s8 operands
  // Chain k starts at k in every lane: identical chains would be merged into one by the compiler.
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2),
          c3 = _mm512_set1_epi32(3), c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5),
          c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7), c8 = _mm512_set1_epi32(8),
          c9 = _mm512_set1_epi32(9), c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11),
          c12 = _mm512_set1_epi32(12), c13 = _mm512_set1_epi32(13), c14 = _mm512_set1_epi32(14),
          c15 = _mm512_set1_epi32(15);
  for (uint64_t it = 0; it < iterations; ++it) {
    c0 = _mm512_dpbusd_epi32(c0, a, b);
    c1 = _mm512_dpbusd_epi32(c1, a, b);
    c2 = _mm512_dpbusd_epi32(c2, a, b);
    c3 = _mm512_dpbusd_epi32(c3, a, b);
    c4 = _mm512_dpbusd_epi32(c4, a, b);
    c5 = _mm512_dpbusd_epi32(c5, a, b);
    c6 = _mm512_dpbusd_epi32(c6, a, b);
    c7 = _mm512_dpbusd_epi32(c7, a, b);
    c8 = _mm512_dpbusd_epi32(c8, a, b);
    c9 = _mm512_dpbusd_epi32(c9, a, b);
    c10 = _mm512_dpbusd_epi32(c10, a, b);
    c11 = _mm512_dpbusd_epi32(c11, a, b);
    c12 = _mm512_dpbusd_epi32(c12, a, b);
    c13 = _mm512_dpbusd_epi32(c13, a, b);
    c14 = _mm512_dpbusd_epi32(c14, a, b);
    c15 = _mm512_dpbusd_epi32(c15, a, b);
  }
  int64_t total = -int64_t(16 * (kInt8Chains * (kInt8Chains - 1) / 2));  // the chains' start values
  for (__m512i c : {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15}) {
    // Lane sums in 64 bits: 16 lanes of a long pass may exceed int32 together.
    alignas(64) int32_t lanes[16];
    _mm512_store_si512(lanes, c);
    for (int32_t v : lanes) total += v;
  }
  return total;
}

}  // namespace

LimitProbes limit_probes() {
  LimitProbes p = avx512::limit_probes();
  p.isa = "avx512vnni";
  p.int8_dot = int8_dot;
  p.int8_macs_per_iteration = double(kInt8Chains * 64);
  p.int8_instruction = "vpdpbusd";
  return p;
}

}  // namespace tokenmill::kernels::avx512vnni
