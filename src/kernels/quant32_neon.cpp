// NEON kernels of the 32-element block family (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) against int8
// activations (BlockQ8A32). Baseline ARMv8.0 integer ops only: int8 x int8 products widen to
// int16 (smull/smlal, two products per lane fit: |q_w * q_x| <= 128 * 127) and pairwise-add into
// int32 (sadalp), so no dot-product extension is needed.
#include <arm_neon.h>

#include <type_traits>

#include "kernels/variants.h"

namespace tokenmill::kernels::neon {
namespace {

// One f16 bit pattern as f32 (exact; one fcvt).
inline float f16(uint16_t h) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

// acc[lane] += partial sums of a[i] * b[i] over the 32 int8 pairs (a_lo, a_hi) . (b_lo, b_hi).
inline int32x4_t dot32(int32x4_t acc, int8x16_t a_lo, int8x16_t a_hi, int8x16_t b_lo, int8x16_t b_hi) {
  int16x8_t lo = vmull_s8(vget_low_s8(a_lo), vget_low_s8(b_lo));
  lo = vmlal_high_s8(lo, a_lo, b_lo);
  int16x8_t hi = vmull_s8(vget_low_s8(a_hi), vget_low_s8(b_hi));
  hi = vmlal_high_s8(hi, a_hi, b_hi);
  return vpadalq_s16(vpadalq_s16(acc, lo), hi);
}

// Rounds 16 floats (already scaled) to int8, ties to even, as the reference's rule.
inline int8x16_t round_to_int8(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
  const int16x8_t ab = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(a)), vqmovn_s32(vcvtnq_s32_f32(b)));
  const int16x8_t cd = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(c)), vqmovn_s32(vcvtnq_s32_f32(d)));
  return vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd));
}

void quantize_q8a32(void* dst, const float* x, size_t n_rows, size_t d_in) {
  BlockQ8A32* out = static_cast<BlockQ8A32*>(dst);  // [n_rows, d_in / 32]
  const size_t n_blocks = n_rows * (d_in / kQK32);
  for (size_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * kQK32;  // rows are whole blocks, so blocks run on across rows
    float32x4_t v[8];
    float32x4_t vmax = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(xb + 4 * k);
      vmax = vmaxq_f32(vmax, vabsq_f32(v[k]));
    }
    const float amax = vmaxvq_f32(vmax);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const int8x16_t lo = round_to_int8(vmulq_n_f32(v[0], id), vmulq_n_f32(v[1], id), vmulq_n_f32(v[2], id),
                                       vmulq_n_f32(v[3], id));
    const int8x16_t hi = round_to_int8(vmulq_n_f32(v[4], id), vmulq_n_f32(v[5], id), vmulq_n_f32(v[6], id),
                                       vmulq_n_f32(v[7], id));
    out[b].d = d;
    out[b].s = d * float(vaddlvq_s8(lo) + vaddlvq_s8(hi));
    vst1q_s8(out[b].qs, lo);
    vst1q_s8(out[b].qs + 16, hi);
  }
}

// A weight block as 32 signed int8 values q (elements 0..15 in lo, 16..31 in hi) with
// x = d * q + m (m = 0 for the symmetric formats).
struct WeightBlock {
  int8x16_t lo, hi;
  float d, m;
};

// Bit i of the 32-bit little-endian qh as 0x10 in byte i: elements 0..15 (lo) or 16..31 (hi).
inline uint8x16_t high_bits(const uint8_t* qh, int half) {
  const uint8x16_t bit = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bytes = vcombine_u8(vdup_n_u8(qh[2 * half]), vdup_n_u8(qh[2 * half + 1]));
  return vandq_u8(vtstq_u8(bytes, bit), vdupq_n_u8(0x10));
}

template <DType WT>
inline WeightBlock load_weight_block(const void* row, size_t index) {
  if constexpr (WT == DType::Q8_0) {
    const BlockQ8_0& b = static_cast<const BlockQ8_0*>(row)[index];
    return {vld1q_s8(b.qs), vld1q_s8(b.qs + 16), f16(b.d), 0.0f};
  } else if constexpr (WT == DType::Q4_0 || WT == DType::Q4_1) {
    using Block = std::conditional_t<WT == DType::Q4_0, BlockQ4_0, BlockQ4_1>;
    const Block& b = static_cast<const Block*>(row)[index];
    const uint8x16_t qs = vld1q_u8(b.qs);
    int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(qs, vdupq_n_u8(0x0f)));
    int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(qs, 4));
    if constexpr (WT == DType::Q4_0) {
      lo = vsubq_s8(lo, vdupq_n_s8(8));
      hi = vsubq_s8(hi, vdupq_n_s8(8));
      return {lo, hi, f16(b.d), 0.0f};
    } else {
      return {lo, hi, f16(b.d), f16(b.m)};
    }
  } else {  // Q5_0, Q5_1
    using Block = std::conditional_t<WT == DType::Q5_0, BlockQ5_0, BlockQ5_1>;
    const Block& b = static_cast<const Block*>(row)[index];
    const uint8x16_t qs = vld1q_u8(b.qs);
    int8x16_t lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(qs, vdupq_n_u8(0x0f)), high_bits(b.qh, 0)));
    int8x16_t hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(qs, 4), high_bits(b.qh, 1)));
    if constexpr (WT == DType::Q5_0) {
      lo = vsubq_s8(lo, vdupq_n_s8(16));
      hi = vsubq_s8(hi, vdupq_n_s8(16));
      return {lo, hi, f16(b.d), 0.0f};
    } else {
      return {lo, hi, f16(b.d), f16(b.m)};
    }
  }
}

constexpr bool has_min(DType t) {
  return t == DType::Q4_1 || t == DType::Q5_1;
}

// y[tok0 + t, row] for t < T: one weight row against T activation rows, each weight block
// unpacked once for all T tokens. Per block: d_w * d_x * sum(q_w * q_x) (+ m_w * s_x).
template <DType WT, size_t T>
inline void dot_row_tokens(float* y, const BlockQ8A32* xq, const void* w, const float* bias, size_t d_in,
                           size_t d_out, size_t row, size_t tok0) {
  const size_t n_blocks = d_in / kQK32;
  const std::byte* w_row = static_cast<const std::byte*>(w) + row * n_blocks * dtype_block_bytes(WT);
  float32x4_t acc[T];
  float min_sum[T];
  for (size_t t = 0; t < T; ++t) {
    acc[t] = vdupq_n_f32(0.0f);
    min_sum[t] = 0.0f;
  }
  for (size_t b = 0; b < n_blocks; ++b) {
    const WeightBlock wb = load_weight_block<WT>(w_row, b);
#pragma GCC unroll 4
    for (size_t t = 0; t < T; ++t) {
      const BlockQ8A32& xb = xq[(tok0 + t) * n_blocks + b];
      const int32x4_t isum = dot32(vdupq_n_s32(0), wb.lo, wb.hi, vld1q_s8(xb.qs), vld1q_s8(xb.qs + 16));
      // Each lane's partial sum is at most 8 * 128 * 127 in magnitude: exact in f32.
      acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum), wb.d * xb.d);
      if constexpr (has_min(WT)) min_sum[t] += wb.m * xb.s;
    }
  }
  const float b0 = bias != nullptr ? bias[row] : 0.0f;
  for (size_t t = 0; t < T; ++t) y[(tok0 + t) * d_out + row] = vaddvq_f32(acc[t]) + min_sum[t] + b0;
}

template <DType WT>
void qmatmul_rows(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  const BlockQ8A32* x = static_cast<const BlockQ8A32*>(xq);  // [n_tokens, d_in / 32]
  for (size_t row = row_begin; row < row_end; ++row) {
    size_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) dot_row_tokens<WT, 4>(y, x, w, bias, d_in, d_out, row, t);
    switch (n_tokens - t) {
      case 3:
        dot_row_tokens<WT, 3>(y, x, w, bias, d_in, d_out, row, t);
        break;
      case 2:
        dot_row_tokens<WT, 2>(y, x, w, bias, d_in, d_out, row, t);
        break;
      case 1:
        dot_row_tokens<WT, 1>(y, x, w, bias, d_in, d_out, row, t);
        break;
      default:
        break;
    }
  }
}

}  // namespace

void add_quant32_kernels(KernelTable& t) {
  t.quantize_q8a32 = quantize_q8a32;
  t.qmatmul_rows[quant_index(DType::Q4_0)] = qmatmul_rows<DType::Q4_0>;
  t.qmatmul_rows[quant_index(DType::Q4_1)] = qmatmul_rows<DType::Q4_1>;
  t.qmatmul_rows[quant_index(DType::Q5_0)] = qmatmul_rows<DType::Q5_0>;
  t.qmatmul_rows[quant_index(DType::Q5_1)] = qmatmul_rows<DType::Q5_1>;
  t.qmatmul_rows[quant_index(DType::Q8_0)] = qmatmul_rows<DType::Q8_0>;
}

}  // namespace tokenmill::kernels::neon
