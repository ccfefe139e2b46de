// NEON kernels of the K-quant family (Q2_K .. Q6_K) against int8 activations (BlockQ8K).
// Baseline ARMv8.0 integer ops only (smull/smlal into int16, then sadalp/mla into int32).
//
// Every weight super-block is first unpacked to one common form, then dotted with each token:
//   x[i] = d * sc[i / 16] * q[i] - dmin * mn[i / 16]     (q: signed int8, sc, mn: int16)
// so that with activations a[i] = d_a * qa[i] and bsums[k] = sum of qa over sub-block k,
//   dot = d_a * (d * sum_k sc[k] * sum_{i in k} q[i] qa[i] - dmin * sum_k mn[k] * bsums[k]).
// Formats with 32-element sub-blocks (Q4_K, Q5_K) repeat each scale and min for both halves;
// formats without a min (Q3_K, Q6_K) fold their offset into the signed q and have mn = 0.
#include <arm_neon.h>

#include "kernels/variants.h"

namespace tokenmill::kernels::neon {
namespace {

constexpr size_t kSubBlocks = kQKK / 16;  // 16-element sub-blocks per super-block

inline float f16(uint16_t h) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

void quantize_q8k(void* dst, const float* x, size_t n_rows, size_t d_in) {
  BlockQ8K* out = static_cast<BlockQ8K*>(dst);  // [n_rows, d_in / 256]
  const size_t n_blocks = n_rows * (d_in / kQKK);
  for (size_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * kQKK;  // rows are whole super-blocks
    float32x4_t vmax = vdupq_n_f32(0.0f);
    for (size_t i = 0; i < kQKK; i += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(xb + i)));
    const float amax = vmaxvq_f32(vmax);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    out[b].d = amax / 127.0f;
    for (size_t k = 0; k < kSubBlocks; ++k) {
      int16x4_t q4[4];
      for (int j = 0; j < 4; ++j)
        q4[j] = vqmovn_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xb + 16 * k + 4 * j), id)));
      const int8x16_t q =
          vcombine_s8(vqmovn_s16(vcombine_s16(q4[0], q4[1])), vqmovn_s16(vcombine_s16(q4[2], q4[3])));
      vst1q_s8(out[b].qs + 16 * k, q);
      out[b].bsums[k] = int16_t(vaddlvq_s8(q));
    }
  }
}

// One weight super-block in the common form above.
struct Unpacked {
  alignas(16) int8_t q[kQKK];
  alignas(16) int16_t sc[kSubBlocks];
  alignas(16) int16_t mn[kSubBlocks];
  float d, dmin;
};

// Bit `bit` of each of 16 bytes as `value` in each byte.
inline uint8x16_t bit_as(uint8x16_t bytes, uint8_t bit, uint8_t value) {
  return vandq_u8(vtstq_u8(bytes, vdupq_n_u8(bit)), vdupq_n_u8(value));
}

// Q2_K: elements 128 h + 32 j + l hold bits 2j..2j+1 of qs[32 h + l]; scales[k] = sc | mn << 4.
inline void unpack(const BlockQ2_K& b, Unpacked& u) {
  for (int h = 0; h < 2; ++h) {
    for (int v = 0; v < 2; ++v) {
      const uint8x16_t qs = vld1q_u8(b.qs + 32 * h + 16 * v);
      const uint8x16_t three = vdupq_n_u8(3);
      int8_t* out = u.q + 128 * h + 16 * v;
      vst1q_s8(out, vreinterpretq_s8_u8(vandq_u8(qs, three)));
      vst1q_s8(out + 32, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(qs, 2), three)));
      vst1q_s8(out + 64, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(qs, 4), three)));
      vst1q_s8(out + 96, vreinterpretq_s8_u8(vshrq_n_u8(qs, 6)));
    }
  }
  const uint8x16_t scales = vld1q_u8(b.scales);
  const uint16x8_t sc_lo = vmovl_u8(vget_low_u8(vandq_u8(scales, vdupq_n_u8(0x0f))));
  const uint16x8_t sc_hi = vmovl_u8(vget_high_u8(vandq_u8(scales, vdupq_n_u8(0x0f))));
  const uint16x8_t mn_lo = vmovl_u8(vget_low_u8(vshrq_n_u8(scales, 4)));
  const uint16x8_t mn_hi = vmovl_u8(vget_high_u8(vshrq_n_u8(scales, 4)));
  vst1q_s16(u.sc, vreinterpretq_s16_u16(sc_lo));
  vst1q_s16(u.sc + 8, vreinterpretq_s16_u16(sc_hi));
  vst1q_s16(u.mn, vreinterpretq_s16_u16(mn_lo));
  vst1q_s16(u.mn + 8, vreinterpretq_s16_u16(mn_hi));
  u.d = f16(b.d);
  u.dmin = f16(b.dmin);
}

// Q3_K: as Q2_K's 2-bit layout, minus 4 where the element's hmask bit (bit 4 h + j of
// hmask[l]) is clear; 16 6-bit scales (stored + 32): low 4 bits from scales[k % 8] (low nibble
// for k < 8, high nibble after), high 2 bits from bits 2 (k / 4) of scales[8 + k % 4].
inline void unpack(const BlockQ3_K& b, Unpacked& u) {
  for (int h = 0; h < 2; ++h) {
    for (int v = 0; v < 2; ++v) {
      const uint8x16_t qs = vld1q_u8(b.qs + 32 * h + 16 * v);
      const uint8x16_t hmask = vld1q_u8(b.hmask + 16 * v);
      int8_t* out = u.q + 128 * h + 16 * v;
      for (int j = 0; j < 4; ++j) {
        const uint8x16_t low = vandq_u8(vshlq_u8(qs, vdupq_n_s8(int8_t(-2 * j))), vdupq_n_u8(3));
        // 4 where the high bit is clear, else 0.
        const uint8x16_t minus = vbicq_u8(vdupq_n_u8(4), bit_as(hmask, uint8_t(1u << (4 * h + j)), 0xff));
        vst1q_s8(out + 32 * j, vsubq_s8(vreinterpretq_s8_u8(low), vreinterpretq_s8_u8(minus)));
      }
    }
  }
  for (size_t k = 0; k < kSubBlocks; ++k) {
    const int low = k < 8 ? b.scales[k] & 15 : b.scales[k - 8] >> 4;
    const int high = (b.scales[8 + k % 4] >> (2 * (k / 4))) & 3;
    u.sc[k] = int16_t((low | high << 4) - 32);
    u.mn[k] = 0;
  }
  u.d = f16(b.d);
  u.dmin = 0.0f;
}

// The 6-bit scale and min of 32-element sub-block j (0..7) of Q4_K / Q5_K.
inline void scale_min_k4(const uint8_t* s, size_t j, int16_t& sc, int16_t& mn) {
  if (j < 4) {
    sc = int16_t(s[j] & 63);
    mn = int16_t(s[j + 4] & 63);
  } else {
    sc = int16_t((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
    mn = int16_t((s[j + 4] >> 4) | (s[j] >> 6) << 4);
  }
}

inline void unpack_scales_k4(const uint8_t* scales, Unpacked& u) {
  for (size_t j = 0; j < 8; ++j) {
    scale_min_k4(scales, j, u.sc[2 * j], u.mn[2 * j]);
    u.sc[2 * j + 1] = u.sc[2 * j];
    u.mn[2 * j + 1] = u.mn[2 * j];
  }
}

// Q4_K: elements 64 c + l (l < 32) are the low nibbles of qs[32 c + l], 64 c + 32 + l the high.
inline void unpack(const BlockQ4_K& b, Unpacked& u) {
  for (int c = 0; c < 4; ++c) {
    for (int v = 0; v < 2; ++v) {
      const uint8x16_t qs = vld1q_u8(b.qs + 32 * c + 16 * v);
      vst1q_s8(u.q + 64 * c + 16 * v, vreinterpretq_s8_u8(vandq_u8(qs, vdupq_n_u8(15))));
      vst1q_s8(u.q + 64 * c + 32 + 16 * v, vreinterpretq_s8_u8(vshrq_n_u8(qs, 4)));
    }
  }
  unpack_scales_k4(b.scales, u);
  u.d = f16(b.d);
  u.dmin = f16(b.dmin);
}

// Q5_K: Q4_K's nibbles plus a fifth bit: bit 2c of qh[l] for the low nibble, 2c + 1 for the high.
inline void unpack(const BlockQ5_K& b, Unpacked& u) {
  for (int c = 0; c < 4; ++c) {
    for (int v = 0; v < 2; ++v) {
      const uint8x16_t qs = vld1q_u8(b.qs + 32 * c + 16 * v);
      const uint8x16_t qh = vld1q_u8(b.qh + 16 * v);
      const uint8x16_t lo = vorrq_u8(vandq_u8(qs, vdupq_n_u8(15)), bit_as(qh, uint8_t(1u << (2 * c)), 16));
      const uint8x16_t hi = vorrq_u8(vshrq_n_u8(qs, 4), bit_as(qh, uint8_t(2u << (2 * c)), 16));
      vst1q_s8(u.q + 64 * c + 16 * v, vreinterpretq_s8_u8(lo));
      vst1q_s8(u.q + 64 * c + 32 + 16 * v, vreinterpretq_s8_u8(hi));
    }
  }
  unpack_scales_k4(b.scales, u);
  u.d = f16(b.d);
  u.dmin = f16(b.dmin);
}

// Q6_K: per half h (128 elements; ql + 64 h, qh + 32 h), for l < 32:
//   e = l:      ql[l] & 15      | (qh[l] >> 0 & 3) << 4
//   e = l + 32: ql[l + 32] & 15 | (qh[l] >> 2 & 3) << 4
//   e = l + 64: ql[l] >> 4      | (qh[l] >> 4 & 3) << 4
//   e = l + 96: ql[l + 32] >> 4 | (qh[l] >> 6 & 3) << 4
// minus 32; int8 scales per 16 elements.
inline void unpack(const BlockQ6_K& b, Unpacked& u) {
  const uint8x16_t low4 = vdupq_n_u8(15), high2 = vdupq_n_u8(0x30);
  const int8x16_t offset = vdupq_n_s8(32);
  for (int h = 0; h < 2; ++h) {
    for (int v = 0; v < 2; ++v) {
      const uint8x16_t ql0 = vld1q_u8(b.ql + 64 * h + 16 * v);
      const uint8x16_t ql1 = vld1q_u8(b.ql + 64 * h + 32 + 16 * v);
      const uint8x16_t qh = vld1q_u8(b.qh + 32 * h + 16 * v);
      const uint8x16_t e0 = vorrq_u8(vandq_u8(ql0, low4), vandq_u8(vshlq_n_u8(qh, 4), high2));
      const uint8x16_t e1 = vorrq_u8(vandq_u8(ql1, low4), vandq_u8(vshlq_n_u8(qh, 2), high2));
      const uint8x16_t e2 = vorrq_u8(vshrq_n_u8(ql0, 4), vandq_u8(qh, high2));
      const uint8x16_t e3 = vorrq_u8(vshrq_n_u8(ql1, 4), vandq_u8(vshrq_n_u8(qh, 2), high2));
      int8_t* out = u.q + 128 * h + 16 * v;
      vst1q_s8(out, vsubq_s8(vreinterpretq_s8_u8(e0), offset));
      vst1q_s8(out + 32, vsubq_s8(vreinterpretq_s8_u8(e1), offset));
      vst1q_s8(out + 64, vsubq_s8(vreinterpretq_s8_u8(e2), offset));
      vst1q_s8(out + 96, vsubq_s8(vreinterpretq_s8_u8(e3), offset));
    }
  }
  const int8x16_t scales = vld1q_s8(b.scales);
  vst1q_s16(u.sc, vmovl_s8(vget_low_s8(scales)));
  vst1q_s16(u.sc + 8, vmovl_s8(vget_high_s8(scales)));
  vst1q_s16(u.mn, vdupq_n_s16(0));
  vst1q_s16(u.mn + 8, vdupq_n_s16(0));
  u.d = f16(b.d);
  u.dmin = 0.0f;
}

// sum_k sc[k] * sum_{i in k} q[i] qa[i]. |q qa| <= 32 * 127, so two products fit in int16;
// |total| <= 256 * 32 * 127 * 128: int32.
inline int32_t scaled_dot(const Unpacked& u, const int8_t* qa) {
  int32x4_t acc = vdupq_n_s32(0);
  for (size_t k = 0; k < kSubBlocks; ++k) {
    const int8x16_t w = vld1q_s8(u.q + 16 * k), a = vld1q_s8(qa + 16 * k);
    const int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(a)), w, a);
    acc = vmlaq_n_s32(acc, vpaddlq_s16(p), u.sc[k]);
  }
  return vaddvq_s32(acc);
}

// sum_k mn[k] * bsums[k].
inline int32_t min_dot(const Unpacked& u, const int16_t* bsums) {
  const int16x8_t m0 = vld1q_s16(u.mn), m1 = vld1q_s16(u.mn + 8);
  const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
  int32x4_t acc = vmull_s16(vget_low_s16(m0), vget_low_s16(b0));
  acc = vmlal_high_s16(acc, m0, b0);
  acc = vmlal_s16(acc, vget_low_s16(m1), vget_low_s16(b1));
  acc = vmlal_high_s16(acc, m1, b1);
  return vaddvq_s32(acc);
}

// Token tile: each unpacked super-block is reused by this many activation rows.
constexpr size_t kTileTokens = 4;

template <class Block>
void qmatmul_rows(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  const size_t n_blocks = d_in / kQKK;
  const BlockQ8K* x = static_cast<const BlockQ8K*>(xq);  // [n_tokens, n_blocks]
  Unpacked u;
  for (size_t row = row_begin; row < row_end; ++row) {
    const Block* w_row = static_cast<const Block*>(w) + row * n_blocks;  // [n_blocks]
    for (size_t t0 = 0; t0 < n_tokens; t0 += kTileTokens) {
      const size_t n_tile = n_tokens - t0 < kTileTokens ? n_tokens - t0 : kTileTokens;
      float acc[kTileTokens] = {};
      for (size_t b = 0; b < n_blocks; ++b) {
        unpack(w_row[b], u);
        for (size_t t = 0; t < n_tile; ++t) {
          const BlockQ8K& xb = x[(t0 + t) * n_blocks + b];
          // The reference's f32 order: d * d_a * isum - dmin * d_a * msum.
          acc[t] += u.d * xb.d * float(scaled_dot(u, xb.qs)) - u.dmin * xb.d * float(min_dot(u, xb.bsums));
        }
      }
      const float b0 = bias != nullptr ? bias[row] : 0.0f;
      for (size_t t = 0; t < n_tile; ++t) y[(t0 + t) * d_out + row] = acc[t] + b0;
    }
  }
}

}  // namespace

void add_quantk_kernels(KernelTable& t) {
  t.quantize_q8k = quantize_q8k;
  t.qmatmul_rows[quant_index(DType::Q2_K)] = qmatmul_rows<BlockQ2_K>;
  t.qmatmul_rows[quant_index(DType::Q3_K)] = qmatmul_rows<BlockQ3_K>;
  t.qmatmul_rows[quant_index(DType::Q4_K)] = qmatmul_rows<BlockQ4_K>;
  t.qmatmul_rows[quant_index(DType::Q5_K)] = qmatmul_rows<BlockQ5_K>;
  t.qmatmul_rows[quant_index(DType::Q6_K)] = qmatmul_rows<BlockQ6_K>;
}

}  // namespace tokenmill::kernels::neon
