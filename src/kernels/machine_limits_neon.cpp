// aarch64 Advanced SIMD probes for machine_limits.cpp (see machine_limits_probes.h). Baseline
// NEON only: f32 through fmla, int8 through smull + sadalp (sdot needs the dotprod extension,
// which the baseline build does not assume).
#include <arm_neon.h>

#include "kernels/machine_limits_probes.h"

namespace tokenmill::kernels::neon {
namespace {

float read_sum(const float* data, size_t n) {
  // 8 independent accumulators: 32 floats (128 bytes) per round.
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = vaddq_f32(s0, vld1q_f32(data + i));
    s1 = vaddq_f32(s1, vld1q_f32(data + i + 4));
    s2 = vaddq_f32(s2, vld1q_f32(data + i + 8));
    s3 = vaddq_f32(s3, vld1q_f32(data + i + 12));
    s4 = vaddq_f32(s4, vld1q_f32(data + i + 16));
    s5 = vaddq_f32(s5, vld1q_f32(data + i + 20));
    s6 = vaddq_f32(s6, vld1q_f32(data + i + 24));
    s7 = vaddq_f32(s7, vld1q_f32(data + i + 28));
  }
  const float32x4_t s = vaddq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)),
                                  vaddq_f32(vaddq_f32(s4, s5), vaddq_f32(s6, s7)));
  float total = vaddvq_f32(s);
  for (; i < n; ++i) total += data[i];
  return total;
}

// 16 chains of fmla: up to four FP pipes x latency 4 on wide cores.
constexpr int kFmaChains = 16;

float f32_fma(uint64_t iterations) {
  const float32x4_t x = vdupq_n_f32(1.0f / 1024), y = vdupq_n_f32(1.0f / 1024);
  float32x4_t a[kFmaChains];
  for (int c = 0; c < kFmaChains; ++c) a[c] = vdupq_n_f32(float(c));
  for (uint64_t it = 0; it < iterations; ++it) {
    a[0] = vfmaq_f32(a[0], x, y);
    a[1] = vfmaq_f32(a[1], x, y);
    a[2] = vfmaq_f32(a[2], x, y);
    a[3] = vfmaq_f32(a[3], x, y);
    a[4] = vfmaq_f32(a[4], x, y);
    a[5] = vfmaq_f32(a[5], x, y);
    a[6] = vfmaq_f32(a[6], x, y);
    a[7] = vfmaq_f32(a[7], x, y);
    a[8] = vfmaq_f32(a[8], x, y);
    a[9] = vfmaq_f32(a[9], x, y);
    a[10] = vfmaq_f32(a[10], x, y);
    a[11] = vfmaq_f32(a[11], x, y);
    a[12] = vfmaq_f32(a[12], x, y);
    a[13] = vfmaq_f32(a[13], x, y);
    a[14] = vfmaq_f32(a[14], x, y);
    a[15] = vfmaq_f32(a[15], x, y);
  }
  float total = 0;
  for (int c = 0; c < kFmaChains; ++c) total += vaddvq_f32(a[c]);
  return total;
}

// 8 chains of smull (s8 x s8 to s16, low and high halves) + sadalp (s16 pairs added into s32).
constexpr int kInt8Chains = 8;

int64_t int8_dot(uint64_t iterations) {
  int8x16_t a = vdupq_n_s8(1);
  const int8x16_t b = vdupq_n_s8(1);
  int32x4_t c[kInt8Chains];
  // Chain k starts at k in every lane: identical chains would be merged into one by the compiler.
  for (int k = 0; k < kInt8Chains; ++k) c[k] = vdupq_n_s32(k);
    // The empty asm makes `a` look rewritten between steps, so the products are neither hoisted
    // out of the loop nor shared between chains; it emits no instruction.
#define TOKENMILL_INT8_STEP(k)                                        \
  c[k] = vpadalq_s16(c[k], vmull_s8(vget_low_s8(a), vget_low_s8(b))); \
  c[k] = vpadalq_s16(c[k], vmull_high_s8(a, b));                      \
  asm volatile("" : "+w"(a))
  for (uint64_t it = 0; it < iterations; ++it) {
    TOKENMILL_INT8_STEP(0);
    TOKENMILL_INT8_STEP(1);
    TOKENMILL_INT8_STEP(2);
    TOKENMILL_INT8_STEP(3);
    TOKENMILL_INT8_STEP(4);
    TOKENMILL_INT8_STEP(5);
    TOKENMILL_INT8_STEP(6);
    TOKENMILL_INT8_STEP(7);
  }
#undef TOKENMILL_INT8_STEP
  int64_t total = -int64_t(4 * (kInt8Chains * (kInt8Chains - 1) / 2));  // the chains' start values
  for (int k = 0; k < kInt8Chains; ++k) total += vaddlvq_s32(c[k]);
  return total;
}

}  // namespace

LimitProbes limit_probes() {
  return LimitProbes{
      "neon",        read_sum, f32_fma, double(kFmaChains * 4 * 2), int8_dot, double(kInt8Chains * 16),
      "smull+sadalp"};
}

}  // namespace tokenmill::kernels::neon
