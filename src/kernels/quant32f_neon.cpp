// NEON float-activation matmul of the 32-element family (quant32f_simd.h): 4 f32 lanes, register
// tiles of 4 rows x 2 tokens. A 4-bit block's 16 code bytes are split once into low and high
// nibbles (u8 x 16 each); part K (elements 4 K .. 4 K + 3) widens 4 of them to u32 (Q5: plus the
// fifth bits of qh by vtst), converts and scales them: fma(q, d, -8 d) rounds d * (q - 8) once, as
// the scalar dequantization does; Q4_1 / Q5_1 round d * q, then add m. Baseline ARMv8.0 only.
#include <arm_neon.h>

#include <cstring>

#include "kernels/quant32f_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::neon {
namespace {

struct NeonF {
  using F = float32x4_t;
  static constexpr size_t kWidth = 4, kTileRows = 4, kTileTokens = 2;

  static F zero() { return vdupq_n_f32(0.0f); }
  static F load(const float* p) { return vld1q_f32(p); }
  static F fmadd(F a, F b, F c) { return vfmaq_f32(c, a, b); }
  static float reduce_add(F v) { return vaddvq_f32(v); }
  static void prefetch(const void* p) { __builtin_prefetch(p); }

  static float f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
  }
  template <DType WT>
  static void load_scales(const uint8_t* first, size_t n, float* d, float* m) {
    constexpr size_t BS = q32f::block_bytes<WT>();
    for (size_t j = 0; j < n; ++j) {
      d[j] = f16(first + j * BS);
      if constexpr (q32f::has_min<WT>()) m[j] = f16(first + j * BS + 2);
    }
  }
  // Bytes 4 J .. 4 J + 3 of v widened to u32 (J compile-time, 0..3).
  template <size_t J>
  static uint32x4_t widen_u8(uint8x16_t v) {
    const uint16x8_t h = J < 2 ? vmovl_u8(vget_low_u8(v)) : vmovl_high_u8(v);
    return J % 2 == 0 ? vmovl_u16(vget_low_u16(h)) : vmovl_high_u16(h);
  }
  template <size_t J>
  static int32x4_t widen_s8(int8x16_t v) {
    const int16x8_t h = J < 2 ? vmovl_s8(vget_low_s8(v)) : vmovl_high_s8(v);
    return J % 2 == 0 ? vmovl_s16(vget_low_s16(h)) : vmovl_high_s16(h);
  }

  template <DType WT>
  struct Block;
};

template <DType WT, class B>
struct Nibbles {
  static constexpr bool kFive = WT == DType::Q5_0 || WT == DType::Q5_1;
  static constexpr bool kMin = WT == DType::Q4_1 || WT == DType::Q5_1;
  uint8x16_t lo, hi;      // nibbles of the 16 code bytes: elements 0..15 and 16..31
  float32x4_t d, offset;  // offset: -8 d (Q4_0), -16 d (Q5_0) or m
  uint32_t qh;
  void load(const uint8_t* block, const float* d_ptr, const float* m_ptr) {
    const float scale = *d_ptr;
    d = vdupq_n_f32(scale);
    if constexpr (kMin)
      offset = vdupq_n_f32(*m_ptr);
    else
      offset = vdupq_n_f32(scale * (kFive ? -16.0f : -8.0f));  // exact: a power of two
    if constexpr (kFive) std::memcpy(&qh, block + offsetof(B, qh), 4);
    const uint8x16_t qs = vld1q_u8(block + offsetof(B, qs));
    lo = vandq_u8(qs, vdupq_n_u8(15));
    hi = vshrq_n_u8(qs, 4);
  }
  template <size_t K>
  float32x4_t part() const {
    uint32x4_t q = NeonF::widen_u8<K % 4>(K < 4 ? lo : hi);
    if constexpr (kFive) {
      const uint32x4_t bit = {1, 2, 4, 8};
      const uint32x4_t set = vtstq_u32(vdupq_n_u32(qh >> (4 * K)), bit);
      q = vorrq_u32(q, vandq_u32(set, vdupq_n_u32(16)));
    }
    const float32x4_t qf = vcvtq_f32_u32(q);
    if constexpr (kMin)
      return vaddq_f32(vmulq_f32(qf, d), offset);
    else
      return vfmaq_f32(offset, qf, d);
  }
};

template <>
struct NeonF::Block<DType::Q4_0> : Nibbles<DType::Q4_0, BlockQ4_0> {};
template <>
struct NeonF::Block<DType::Q4_1> : Nibbles<DType::Q4_1, BlockQ4_1> {};
template <>
struct NeonF::Block<DType::Q5_0> : Nibbles<DType::Q5_0, BlockQ5_0> {};
template <>
struct NeonF::Block<DType::Q5_1> : Nibbles<DType::Q5_1, BlockQ5_1> {};
template <>
struct NeonF::Block<DType::Q8_0> {
  int8x16_t lo, hi;  // elements 0..15, 16..31
  float32x4_t d;
  void load(const uint8_t* block, const float* d_ptr, const float*) {
    d = vdupq_n_f32(*d_ptr);
    const int8_t* qs = reinterpret_cast<const int8_t*>(block + offsetof(BlockQ8_0, qs));
    lo = vld1q_s8(qs);
    hi = vld1q_s8(qs + 16);
  }
  template <size_t K>
  float32x4_t part() const {
    return vmulq_f32(vcvtq_f32_s32(NeonF::widen_s8<K % 4>(K < 4 ? lo : hi)), d);
  }
};

}  // namespace

void add_quant32f_kernels(KernelTable& t) {
  q32f::add_kernels<NeonF>(t);
}

}  // namespace tokenmill::kernels::neon
