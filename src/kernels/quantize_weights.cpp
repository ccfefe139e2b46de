#include "kernels/quantize_weights.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.h"
#include "kernels/quant_blocks.h"

namespace tokenmill::kernels {
namespace {

// ---------------------------------------------------------------------------------------------
// 32-element blocks. Every step is float32 arithmetic in the reference's order (a product and a
// sum are never fused), so the bytes equal the reference's.

// The element of largest magnitude, keeping its sign (the first one when several tie).
float signed_absmax(const float* x, size_t n) {
  float amax = 0.0f, max = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

// trunc(v) clipped to [0, hi]; NaN gives 0.
uint8_t trunc_clip(float v, int hi) {
  if (!(v >= 0.0f)) return 0;
  if (v >= float(hi)) return uint8_t(hi);
  return uint8_t(int(v));
}

float inverse_or_zero(float d) {
  return d != 0.0f ? 1.0f / d : 0.0f;
}

// Low nibbles hold elements 0..15, high nibbles 16..31 (q: [32], values < 16 after masking).
void pack_nibbles_32(const uint8_t* q, uint8_t* qs) {
  for (size_t j = 0; j < kQK32 / 2; ++j) qs[j] = uint8_t((q[j] & 15) | ((q[j + 16] & 15) << 4));
}

// Bit i of the little-endian u32 is bit 4 of q[i].
void pack_high_bits_32(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (size_t i = 0; i < kQK32; ++i) bits |= uint32_t((q[i] >> 4) & 1) << i;
  for (size_t k = 0; k < 4; ++k) qh[k] = uint8_t(bits >> (8 * k));
}

// Symmetric: d = max / -2^(bits-1), q = trunc(x / d + 2^(bits-1) + 0.5) in [0, 2^bits - 1].
void quantize_symmetric_32(const float* x, int half_range, uint16_t& d_out, uint8_t* q) {
  const float d = signed_absmax(x, kQK32) / float(-half_range);
  const float id = inverse_or_zero(d);
  const float offset = float(half_range) + 0.5f;
  for (size_t i = 0; i < kQK32; ++i) q[i] = trunc_clip(x[i] * id + offset, 2 * half_range - 1);
  d_out = f32_to_fp16(d);
}

// With a minimum: d = (max - min) / levels, q = trunc((x - min) / d + 0.5) in [0, levels].
void quantize_affine_32(const float* x, int levels, uint16_t& d_out, uint16_t& m_out, uint8_t* q) {
  float min = x[0], max = x[0];
  for (size_t i = 1; i < kQK32; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
  }
  const float d = (max - min) / float(levels);
  const float id = inverse_or_zero(d);
  for (size_t i = 0; i < kQK32; ++i) q[i] = trunc_clip((x[i] - min) * id + 0.5f, levels);
  d_out = f32_to_fp16(d);
  m_out = f32_to_fp16(min);
}

void quantize_q4_0(const float* x, BlockQ4_0& b) {
  uint8_t q[kQK32];
  quantize_symmetric_32(x, 8, b.d, q);
  pack_nibbles_32(q, b.qs);
}

void quantize_q4_1(const float* x, BlockQ4_1& b) {
  uint8_t q[kQK32];
  quantize_affine_32(x, 15, b.d, b.m, q);
  pack_nibbles_32(q, b.qs);
}

void quantize_q5_0(const float* x, BlockQ5_0& b) {
  uint8_t q[kQK32];
  quantize_symmetric_32(x, 16, b.d, q);
  pack_high_bits_32(q, b.qh);
  pack_nibbles_32(q, b.qs);
}

void quantize_q5_1(const float* x, BlockQ5_1& b) {
  uint8_t q[kQK32];
  quantize_affine_32(x, 31, b.d, b.m, q);
  pack_high_bits_32(q, b.qh);
  pack_nibbles_32(q, b.qs);
}

// d = amax / 127, q = round-half-away-from-zero(x / d).
void quantize_q8_0(const float* x, BlockQ8_0& b) {
  float amax = 0.0f;
  for (size_t i = 0; i < kQK32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = inverse_or_zero(d);
  for (size_t i = 0; i < kQK32; ++i) b.qs[i] = int8_t(std::round(x[i] * id));
  b.d = f32_to_fp16(d);
}

// ---------------------------------------------------------------------------------------------
// K-quants: 256-element super-blocks of 16 or 32-element sub-blocks.

// Nearest integer (ties to even) of v, for |v| < 2^21; larger magnitudes are first clamped, so the
// callers' clamps to a few bits still see the right sign.
inline int nearest_int(float v) {
  constexpr float kLimit = float(1 << 21);
  v = std::clamp(v, -kLimit, kLimit);
  const float shifted = v + 12582912.0f;  // 1.5 * 2^23: the sum's low mantissa bits are round(v)
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x7fffff) - 0x400000;
}

inline int clamp_int(int v, int lo, int hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

// The candidate searches run on kLanes independent partial sums (n is a multiple of kLanes),
// which the compiler turns into SIMD with exact float semantics: the search is most of the time
// spent quantizing.
constexpr int kLanes = 8;  // sum_lanes adds exactly 8

inline float sum_lanes(const float* v) {  // pairwise: a short dependency chain
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

// round-half-even(min(max(v, lo), hi)) as a float, for integer bounds of magnitude < 2^22.
inline float round_clamped(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return (v + 12582912.0f) - 12582912.0f;  // 1.5 * 2^23: the sum keeps no fraction
}

// Below this magnitude a sub-block is treated as all zeros.
constexpr float kTinyMagnitude = 1e-30f;

// How many candidate scales the fits try: inverse scales (levels + k * step) / range for
// k = -steps .. steps. On Gaussian rows, twice as many candidates lower the error by under 1%.
struct ScaleSearch {
  int steps;
  float step;
};

// Fits x[i] ~= scale * q[i] with integer q in [-nmax, nmax - 1] (n elements), least squared
// error over the candidates. The largest-magnitude element maps near -nmax (its sign gives the
// scale's sign), which spends the extra negative level on it. Returns the scale.
float fit_symmetric(const float* x, int n, int nmax, ScaleSearch search) {
  float amax = 0.0f, xm = 0.0f, sxx = 0.0f;
  for (int i = 0; i < n; ++i) {
    sxx += x[i] * x[i];
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      xm = x[i];
    }
  }
  if (amax < kTinyMagnitude) return 0.0f;
  float best_scale = -xm / float(nmax), best_err = std::numeric_limits<float>::infinity();
  for (int k = -search.steps; k <= search.steps; ++k) {
    const float iscale = -(float(nmax) + search.step * float(k)) / xm;
    float sxq_lanes[kLanes] = {}, sqq_lanes[kLanes] = {};
    for (int i = 0; i < n; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const float q = round_clamped(iscale * x[i + l], -float(nmax), float(nmax - 1));
        sxq_lanes[l] += x[i + l] * q;
        sqq_lanes[l] += q * q;
      }
    }
    const float sxq = sum_lanes(sxq_lanes), sqq = sum_lanes(sqq_lanes);
    if (sqq == 0.0f) continue;
    // Least-squares scale for these q; its squared error is sxx - sxq^2 / sqq.
    const float scale = sxq / sqq;
    const float err = float(double(sxx) - double(scale) * double(sxq));
    if (err < best_err) {
      best_err = err;
      best_scale = scale;
    }
  }
  return best_scale;
}

// x ~= scale * q - min with integer q in [0, nmax], scale >= 0 and min >= 0 (the format
// subtracts a non-negative offset).
struct ScaleMin {
  float scale;
  float min;
};

// Least squared error over the candidates; for each candidate's q, scale and offset are the
// least-squares line (offset clamped so that min >= 0).
ScaleMin fit_with_min(const float* x, int n, int nmax, ScaleSearch search) {
  float lo = x[0], hi = x[0], sx = 0.0f, sxx = 0.0f;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sx += x[i];
    sxx += x[i] * x[i];
  }
  lo = std::min(lo, 0.0f);
  if (!(hi - lo >= kTinyMagnitude)) return {0.0f, -lo};
  ScaleMin best{(hi - lo) / float(nmax), -lo};
  double best_err = std::numeric_limits<double>::infinity();
  for (int k = -search.steps; k <= search.steps; ++k) {
    const float iscale = (float(nmax) + search.step * float(k)) / (hi - lo);
    float sq_lanes[kLanes] = {}, sqq_lanes[kLanes] = {}, sxq_lanes[kLanes] = {};
    for (int i = 0; i < n; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const float q = round_clamped(iscale * (x[i + l] - lo), 0.0f, float(nmax));
        sq_lanes[l] += q;
        sqq_lanes[l] += q * q;
        sxq_lanes[l] += x[i + l] * q;
      }
    }
    const float sq = sum_lanes(sq_lanes), sqq = sum_lanes(sqq_lanes), sxq = sum_lanes(sxq_lanes);
    const double det = double(n) * sqq - double(sq) * sq;
    if (det <= 0.0) continue;  // all q equal: no line through them
    const double inv_det = 1.0 / det;
    double s = (double(n) * sxq - double(sq) * sx) * inv_det;
    double b = (double(sqq) * sx - double(sq) * sxq) * inv_det;  // x ~= s * q + b
    if (b > 0.0) {
      b = 0.0;
      s = double(sxq) / sqq;
    }
    if (s <= 0.0) continue;
    const double err =
        sxx + s * s * sqq + double(n) * b * b - 2.0 * s * sxq - 2.0 * b * sx + 2.0 * s * b * sq;
    if (err < best_err) {
      best_err = err;
      best = {float(s), float(-b)};
    }
  }
  return best;
}

// The super-block scale of per-sub-block values v (all >= 0) stored in `levels` steps: the f16
// of max(v) / levels, and the quantized steps round(v / d) in [0, levels].
uint16_t quantize_scales_unsigned(const float* v, int n, int levels, uint8_t* out) {
  float max = 0.0f;
  for (int j = 0; j < n; ++j) max = std::max(max, v[j]);
  const uint16_t d16 = f32_to_fp16(max / float(levels));
  const float d = fp16_to_f32(d16);
  const float id = inverse_or_zero(d);
  for (int j = 0; j < n; ++j) out[j] = uint8_t(clamp_int(nearest_int(v[j] * id), 0, levels));
  return d16;
}

// As above for signed values: steps in [-levels, levels].
uint16_t quantize_scales_signed(const float* v, int n, int levels, int* out) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(v[j]));
  const uint16_t d16 = f32_to_fp16(amax / float(levels));
  const float d = fp16_to_f32(d16);
  const float id = inverse_or_zero(d);
  for (int j = 0; j < n; ++j) out[j] = clamp_int(nearest_int(v[j] * id), -levels, levels);
  return d16;
}

// Elements of one sub-block against its stored step ds and offset dm: q = round((x + dm) / ds)
// in [lo, hi]; ds == 0 gives q = 0 clipped into the range.
void requantize(const float* x, int n, float ds, float dm, int lo, int hi, int* q) {
  const float id = inverse_or_zero(ds);
  for (int i = 0; i < n; ++i) q[i] = clamp_int(nearest_int((x[i] + dm) * id), lo, hi);
}

constexpr ScaleSearch kSearch2 = {4, 0.15f};  // Q2_K: 4 levels
constexpr ScaleSearch kSearch3 = {5, 0.12f};  // Q3_K: 8 levels
constexpr ScaleSearch kSearch4 = {5, 0.12f};  // Q4_K: 16 levels
constexpr ScaleSearch kSearch5 = {5, 0.2f};   // Q5_K: 32 levels
constexpr ScaleSearch kSearch6 = {5, 0.3f};   // Q6_K: 64 levels

// Q2_K: 16 sub-blocks of 16, 2-bit q, 4-bit scale and min per sub-block.
void quantize_q2_k(const float* x, BlockQ2_K& b) {
  float scales[16], mins[16];
  for (int j = 0; j < 16; ++j) {
    const ScaleMin sm = fit_with_min(x + 16 * j, 16, 3, kSearch2);
    scales[j] = sm.scale;
    mins[j] = sm.min;
  }
  uint8_t sc[16], mn[16];
  b.d = quantize_scales_unsigned(scales, 16, 15, sc);
  b.dmin = quantize_scales_unsigned(mins, 16, 15, mn);
  const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
  int q[kQKK];
  for (int j = 0; j < 16; ++j) {
    b.scales[j] = uint8_t(sc[j] | (mn[j] << 4));
    requantize(x + 16 * j, 16, d * float(sc[j]), dmin * float(mn[j]), 0, 3, q + 16 * j);
  }
  // Element h * 128 + k * 32 + i lives in bits 2k of qs[h * 32 + i].
  std::memset(b.qs, 0, sizeof b.qs);
  for (int e = 0; e < int(kQKK); ++e) {
    const int h = e / 128, k = (e % 128) / 32, i = e % 32;
    b.qs[h * 32 + i] |= uint8_t(q[e] << (2 * k));
  }
}

// Q3_K: 16 sub-blocks of 16, q in [-4, 3] (2 low bits + hmask bit), signed 6-bit scales.
void quantize_q3_k(const float* x, BlockQ3_K& b) {
  float scales[16];
  for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric(x + 16 * j, 16, 4, kSearch3);
  int sc[16];
  b.d = quantize_scales_signed(scales, 16, 31, sc);
  const float d = fp16_to_f32(b.d);
  // Stored scale u = sc + 32 (6 bits): low nibble in byte j % 8 (high half for j >= 8), high two
  // bits in byte 8 + j % 4 at bit 2 * (j / 4).
  std::memset(b.scales, 0, sizeof b.scales);
  int q[kQKK];
  for (int j = 0; j < 16; ++j) {
    const int u = sc[j] + 32;
    b.scales[j % 8] |= uint8_t((u & 15) << (4 * (j / 8)));
    b.scales[8 + j % 4] |= uint8_t((u >> 4) << (2 * (j / 4)));
    requantize(x + 16 * j, 16, d * float(sc[j]), 0.0f, -4, 3, q + 16 * j);
  }
  // q + 4 = 4 * hbit + low: low in bits 2k of qs[h * 32 + i] for element h * 128 + k * 32 + i,
  // hbit in bit b of hmask[i] for element b * 32 + i.
  std::memset(b.qs, 0, sizeof b.qs);
  std::memset(b.hmask, 0, sizeof b.hmask);
  for (int e = 0; e < int(kQKK); ++e) {
    const int v = q[e] + 4;
    const int h = e / 128, k = (e % 128) / 32, i = e % 32;
    b.qs[h * 32 + i] |= uint8_t((v & 3) << (2 * k));
    b.hmask[e % 32] |= uint8_t((v >> 2) << (e / 32));
  }
}

// The 12-byte packing of eight 6-bit scales and mins (Q4_K, Q5_K): bytes 0..3 hold scales 0..3
// with bits 4..5 of scales 4..7 on top; bytes 4..7 the same for mins; bytes 8..11 the low
// nibbles of scales 4..7 (low half) and mins 4..7 (high half).
void pack_scales_mins_12(const uint8_t* sc, const uint8_t* mn, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    out[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = uint8_t(mn[j] | ((mn[j + 4] >> 4) << 6));
    out[j + 8] = uint8_t((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

// Shared by Q4_K and Q5_K: 8 sub-blocks of 32, q in [0, nmax]; fills q: [256].
void quantize_k_with_min_32(const float* x, int nmax, ScaleSearch search, uint16_t& d_out, uint16_t& dmin_out,
                            uint8_t* scales12, int* q) {
  float scales[8], mins[8];
  for (int j = 0; j < 8; ++j) {
    const ScaleMin sm = fit_with_min(x + 32 * j, 32, nmax, search);
    scales[j] = sm.scale;
    mins[j] = sm.min;
  }
  uint8_t sc[8], mn[8];
  d_out = quantize_scales_unsigned(scales, 8, 63, sc);
  dmin_out = quantize_scales_unsigned(mins, 8, 63, mn);
  pack_scales_mins_12(sc, mn, scales12);
  const float d = fp16_to_f32(d_out), dmin = fp16_to_f32(dmin_out);
  for (int j = 0; j < 8; ++j)
    requantize(x + 32 * j, 32, d * float(sc[j]), dmin * float(mn[j]), 0, nmax, q + 32 * j);
}

// Element e = 64 * g + 32 * s + i lives in nibble s of qs[32 * g + i].
void pack_k_nibbles(const int* q, uint8_t* qs) {
  for (int g = 0; g < 4; ++g)
    for (int i = 0; i < 32; ++i)
      qs[32 * g + i] = uint8_t((q[64 * g + i] & 15) | ((q[64 * g + 32 + i] & 15) << 4));
}

void quantize_q4_k(const float* x, BlockQ4_K& b) {
  int q[kQKK];
  quantize_k_with_min_32(x, 15, kSearch4, b.d, b.dmin, b.scales, q);
  pack_k_nibbles(q, b.qs);
}

void quantize_q5_k(const float* x, BlockQ5_K& b) {
  int q[kQKK];
  quantize_k_with_min_32(x, 31, kSearch5, b.d, b.dmin, b.scales, q);
  pack_k_nibbles(q, b.qs);
  // Bit 4 of element e = 32 * bit + i lives in bit `bit` of qh[i].
  std::memset(b.qh, 0, sizeof b.qh);
  for (int e = 0; e < int(kQKK); ++e) b.qh[e % 32] |= uint8_t(((q[e] >> 4) & 1) << (e / 32));
}

// Q6_K: 16 sub-blocks of 16, q in [-32, 31] (4 low bits in ql, 2 high bits in qh), int8 scales.
void quantize_q6_k(const float* x, BlockQ6_K& b) {
  float scales[16];
  for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric(x + 16 * j, 16, 32, kSearch6);
  int sc[16];
  b.d = quantize_scales_signed(scales, 16, 127, sc);
  const float d = fp16_to_f32(b.d);
  int q[kQKK];
  for (int j = 0; j < 16; ++j) {
    b.scales[j] = int8_t(sc[j]);
    requantize(x + 16 * j, 16, d * float(sc[j]), 0.0f, -32, 31, q + 16 * j);
  }
  // v = q + 32: for element e = 128 * h + r, the low nibble is nibble r / 64 of ql[64 * h + r % 64]
  // and the high two bits are bits 2 * (r / 32) of qh[32 * h + r % 32].
  std::memset(b.ql, 0, sizeof b.ql);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int e = 0; e < int(kQKK); ++e) {
    const int v = q[e] + 32;
    const int h = e / 128, r = e % 128;
    b.ql[64 * h + r % 64] |= uint8_t((v & 15) << (4 * (r / 64)));
    b.qh[32 * h + r % 32] |= uint8_t((v >> 4) << (2 * (r / 32)));
  }
}

template <typename Block, void (*QuantizeBlock)(const float*, Block&)>
void quantize_blocks(const float* x, void* dst, size_t n, size_t block_elements) {
  Block* blocks = static_cast<Block*>(dst);
  for (size_t i = 0; i < n / block_elements; ++i) QuantizeBlock(x + i * block_elements, blocks[i]);
}

void check_quantizable(DType t, size_t n) {
  check(dtype_is_quantized(t), "quantize: " + std::string(dtype_name(t)) + " is not a quantized type");
  check(n % dtype_block_elements(t) == 0,
        "quantize: a row of " + std::to_string(n) + " elements is not a whole number of " +
            std::string(dtype_name(t)) + " blocks of " + std::to_string(dtype_block_elements(t)));
}

void quantize_row_unchecked(DType t, const float* x, void* dst, size_t n) {
  switch (t) {
    case DType::Q4_0:
      return quantize_blocks<BlockQ4_0, quantize_q4_0>(x, dst, n, kQK32);
    case DType::Q4_1:
      return quantize_blocks<BlockQ4_1, quantize_q4_1>(x, dst, n, kQK32);
    case DType::Q5_0:
      return quantize_blocks<BlockQ5_0, quantize_q5_0>(x, dst, n, kQK32);
    case DType::Q5_1:
      return quantize_blocks<BlockQ5_1, quantize_q5_1>(x, dst, n, kQK32);
    case DType::Q8_0:
      return quantize_blocks<BlockQ8_0, quantize_q8_0>(x, dst, n, kQK32);
    case DType::Q2_K:
      return quantize_blocks<BlockQ2_K, quantize_q2_k>(x, dst, n, kQKK);
    case DType::Q3_K:
      return quantize_blocks<BlockQ3_K, quantize_q3_k>(x, dst, n, kQKK);
    case DType::Q4_K:
      return quantize_blocks<BlockQ4_K, quantize_q4_k>(x, dst, n, kQKK);
    case DType::Q5_K:
      return quantize_blocks<BlockQ5_K, quantize_q5_k>(x, dst, n, kQKK);
    case DType::Q6_K:
      return quantize_blocks<BlockQ6_K, quantize_q6_k>(x, dst, n, kQKK);
    default:
      throw Error("quantize: " + std::string(dtype_name(t)) + " is not a quantized type");
  }
}

}  // namespace

void quantize_row(DType t, const float* x, void* dst, size_t n) {
  check_quantizable(t, n);
  quantize_row_unchecked(t, x, dst, n);
}

size_t quantize_rows(DType t, const float* x, void* dst, size_t n_rows, size_t n_per_row, ThreadPool& pool) {
  check_quantizable(t, n_per_row);
  const size_t row_bytes = dtype_row_bytes(t, n_per_row);
  auto* out = static_cast<uint8_t*>(dst);
  pool.parallel_for(n_rows, [&](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r)
      quantize_row_unchecked(t, x + r * n_per_row, out + r * row_bytes, n_per_row);
  });
  return n_rows * row_bytes;
}

}  // namespace tokenmill::kernels
