// ISA-independent bodies of the 32-element-block quantized kernels (Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0), written against an integer-vector traits type V and instantiated by quant32_avx2.cpp,
// quant32_avx512.cpp and quant32_avx512vnni.cpp. Every template depends on V, so no code compiled
// for one ISA can be picked by the linker for another. Include only from ISA-specific files.
//
// The matmul is a register-tiled integer GEMM over a repacked weight panel:
//   * A panel is P = kRowVecs * kLanes output rows. For a slice of up to kSliceBlocks blocks its
//     codes are unpacked to bytes and transposed so that one vector holds 4 consecutive elements
//     (one i32 lane) of kLanes rows: panel vector (block j, k, r) lane l = elements 4k..4k+3 of
//     row r * kLanes + l. The block scales d (and mins m) become f32 vectors over the same rows.
//   * A chunk of tokens (~kMatmulTokenChunkBytes of activations) stays in L2 while every panel
//     passes over it, in tiles of kTileTokens tokens.
//   * One activation dword (4 int8 of one token) is broadcast and multiplied into all lanes
//     (vpdpbusd, or vpmaddubsw + vpmaddwd), so 8 such steps leave, in lane l, the integer dot
//     product of one weight block of row l with one activation block. Each weight vector is reused
//     for kTileTokens tokens and each activation dword for kRowVecs weight vectors.
//   * Per block, row vector and token, the float work is cvt + mul + fma: f += i * (d_w * d_x).
//     With 32-element blocks that is 3 vector ops per 8 vpdpbusd, and both compete for the same
//     two vector ports: this, not memory, bounds the tile below the vpdpbusd peak.
//     Offsets are folded into the integer accumulator's start value: -8 * sum(q_x) for Q4_0,
//     -16 * sum(q_x) for Q5_0, and for Q8_0 under VNNI (whose first operand is unsigned) the codes
//     are stored + 128 and the start is -128 * sum(q_x). The mins of Q4_1 / Q5_1 add one fma:
//     f += m_w * s_x.
//   * Decode (at most kDirectTokens tokens) skips the panel: each block of kLanes rows is
//     unpacked into registers and used at once (direct_group), and the weights stream from
//     memory kLanes rows side by side.
// V provides (I: integer vector of kLanes i32, F: f32 vector of kLanes):
//   kLanes, kRowVecs, kTileTokens, kVnni; load_i / store_i (aligned), set1_i32, zero_i, add_i32;
//   load_rows128(p, step): 128-bit lane i = 16 bytes at p + i * step; gather_u32(p, step): lane l =
//   4 bytes at p + l * step; unpack{lo,hi}{32,64}; nibble_lo / nibble_hi; flip_sign_bit;
//   add_high_bits(v, qh, k) (Q5: bit 4 of byte j of lane l = bit 4k + j of qh[l]);
//   dot (vpdpbusd, VNNI only); maddubs, add16, widen_add (acc + pairwise i16 sums); SignedW with
//   prep_signed / signed_abs / apply_sign (Q8_0 without VNNI); f16_low_to_f / f16_high_to_f (the
//   f16 in the low / high half of each lane); load_f / store_f (unaligned), zero_f, set1_f, add_f,
//   to_f, mul, fmadd; quantize_block (the rule of quant_blocks.h, byte-exact); qs_sum (sum of 32
//   int8).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/quant_blocks.h"
#include "kernels/repack.h"
#include "kernels/simd_kernels.h"

namespace tokenmill::kernels::q32 {

// Blocks per panel slice: 32 rows x 16 blocks x 32 codes = 16 KiB of unpacked codes, which stay in
// L1 while every token tile of the chunk passes over them.
inline constexpr size_t kSliceBlocks = 16;
inline constexpr size_t kMaxPanelRows = 32;
inline constexpr size_t kNoField = size_t(-1);
// Up to this many tokens, rows are computed straight from the weights (direct_group); beyond, each
// unpacked panel serves enough tokens to repay its store and reload.
inline constexpr size_t kDirectTokens = 4;

// Byte layout of one weight block type (quant_blocks.h). kBits: 4 (Q4), 5 (Q5) or 8 (Q8_0).
// kOffset: subtracted from every code. kMin: offset of the f16 min, kQh: offset of the high bits.
template <DType WT>
struct Format;
template <>
struct Format<DType::Q4_0> {
  using Block = BlockQ4_0;
  static constexpr size_t kBits = 4, kQs = offsetof(BlockQ4_0, qs), kMin = kNoField, kQh = kNoField;
  static constexpr int kOffset = 8;
};
template <>
struct Format<DType::Q4_1> {
  using Block = BlockQ4_1;
  static constexpr size_t kBits = 4, kQs = offsetof(BlockQ4_1, qs), kMin = offsetof(BlockQ4_1, m),
                          kQh = kNoField;
  static constexpr int kOffset = 0;
};
template <>
struct Format<DType::Q5_0> {
  using Block = BlockQ5_0;
  static constexpr size_t kBits = 5, kQs = offsetof(BlockQ5_0, qs), kMin = kNoField,
                          kQh = offsetof(BlockQ5_0, qh);
  static constexpr int kOffset = 16;
};
template <>
struct Format<DType::Q5_1> {
  using Block = BlockQ5_1;
  static constexpr size_t kBits = 5, kQs = offsetof(BlockQ5_1, qs), kMin = offsetof(BlockQ5_1, m),
                          kQh = offsetof(BlockQ5_1, qh);
  static constexpr int kOffset = 0;
};
template <>
struct Format<DType::Q8_0> {
  using Block = BlockQ8_0;
  static constexpr size_t kBits = 8, kQs = offsetof(BlockQ8_0, qs), kMin = kNoField, kQh = kNoField;
  static constexpr int kOffset = 0;
};

// The offset the integer accumulator starts from (times -sum(q_x)) on ISA V.
template <class V, DType WT>
constexpr int code_offset() {
  if constexpr (WT == DType::Q8_0)
    return V::kVnni ? 128 : 0;
  else
    return Format<WT>::kOffset;
}

// Multiply steps (of 4 codes) summed in i16 before widening, on ISAs without VNNI: a pair of
// u8 x s8 products is at most 2 * 15 * 127 = 3810 for 4-bit codes (8 steps fit in i16),
// 2 * 31 * 127 = 7874 for 5-bit codes (4 steps) and 2 * 128 * 127 for |Q8_0| (1 step).
template <DType WT>
constexpr size_t i16_group() {
  return Format<WT>::kBits == 4 ? 8 : Format<WT>::kBits == 5 ? 4 : 1;
}

template <class V>
void quantize_q8a32(void* dst, const float* x, size_t n_rows, size_t d_in) {
  BlockQ8A32* out = static_cast<BlockQ8A32*>(dst);
  const size_t n_blocks = n_rows * (d_in / kQK32);
  for (size_t b = 0; b < n_blocks; ++b) V::quantize_block(x + b * kQK32, out + b);
}

// 4x4 transposes of dwords within each 128-bit lane: z[k] dword g <- z[g] dword k.
template <class V>
inline void transpose4(typename V::I& z0, typename V::I& z1, typename V::I& z2, typename V::I& z3) {
  using I = typename V::I;
  const I t0 = V::unpacklo32(z0, z1), t1 = V::unpacklo32(z2, z3);
  const I t2 = V::unpackhi32(z0, z1), t3 = V::unpackhi32(z2, z3);
  z0 = V::unpacklo64(t0, t1);
  z1 = V::unpackhi64(t0, t1);
  z2 = V::unpacklo64(t2, t3);
  z3 = V::unpackhi64(t2, t3);
}

// Loads 16 code bytes at p of each of kLanes rows (row_bytes apart) as four vectors, vector k
// lane l = dword k of row l. Vector g first holds rows 4i + g in its 128-bit lane i, so the
// transposes leave the rows in lane order.
template <class V>
inline void load_codes_transposed(const uint8_t* p, size_t row_bytes, typename V::I* z) {
  z[0] = V::load_rows128(p, 4 * row_bytes);
  z[1] = V::load_rows128(p + row_bytes, 4 * row_bytes);
  z[2] = V::load_rows128(p + 2 * row_bytes, 4 * row_bytes);
  z[3] = V::load_rows128(p + 3 * row_bytes, 4 * row_bytes);
  transpose4<V>(z[0], z[1], z[2], z[3]);
}

// Unpacks one block of kLanes rows (block at blk for row 0, row_bytes apart): v[k] lane l =
// codes 4k..4k+3 of row l as unsigned bytes (signed for Q8_0 without VNNI); dm lane l = row l's
// first 4 bytes (f16 d, then the f16 m of Q4_1 / Q5_1).
template <class V, DType WT>
inline void unpack_block(typename V::I* v, typename V::I& dm, const uint8_t* blk, size_t row_bytes) {
  using Fm = Format<WT>;
  if constexpr (Fm::kBits == 8) {
    load_codes_transposed<V>(blk + Fm::kQs, row_bytes, v);
    load_codes_transposed<V>(blk + Fm::kQs + 16, row_bytes, v + 4);
    if constexpr (V::kVnni) {
#pragma GCC unroll 8
      for (size_t k = 0; k < 8; ++k) v[k] = V::flip_sign_bit(v[k]);
    }
  } else {
    load_codes_transposed<V>(blk + Fm::kQs, row_bytes, v);
#pragma GCC unroll 4
    for (size_t k = 0; k < 4; ++k) {
      v[k + 4] = V::nibble_hi(v[k]);
      v[k] = V::nibble_lo(v[k]);
    }
    if constexpr (Fm::kBits == 5) {
      const typename V::I qh = V::gather_u32(blk + Fm::kQh, row_bytes);
#pragma GCC unroll 8
      for (size_t k = 0; k < 8; ++k) v[k] = V::add_high_bits(v[k], qh, k);
    }
  }
  dm = V::gather_u32(blk, row_bytes);
}

// unpack_block into 8 panel vectors at dst + k * dst_stride (k = 0..7) and scales (mins) d[l], m[l].
template <class V, DType WT>
inline void pack_block(uint8_t* dst, size_t dst_stride, const uint8_t* blk, size_t row_bytes, float* d,
                       float* m) {
  typename V::I v[8], dm;
  unpack_block<V, WT>(v, dm, blk, row_bytes);
#pragma GCC unroll 8
  for (size_t k = 0; k < 8; ++k) V::store_i(dst + k * dst_stride, v[k]);
  V::store_f(d, V::f16_low_to_f(dm));
  if constexpr (Format<WT>::kMin != kNoField) V::store_f(m, V::f16_high_to_f(dm));
}

// A panel slice: codes [kSliceBlocks][8][kRowVecs] vectors, scales and mins [kSliceBlocks][P].
template <class V>
struct PanelSlice {
  static constexpr size_t kRows = V::kRowVecs * V::kLanes;
  static constexpr size_t kVecBytes = sizeof(typename V::I);
  alignas(64) uint8_t q[kSliceBlocks * 8 * V::kRowVecs * kVecBytes];
  alignas(64) float d[kSliceBlocks * kRows];
  alignas(64) float m[kSliceBlocks * kRows];
};

// Packs n_blocks blocks of P rows: row l's first block at first + l * row_bytes.
template <class V, DType WT>
void pack_slice(PanelSlice<V>& s, const uint8_t* first, size_t row_bytes, size_t n_blocks) {
  constexpr size_t L = V::kLanes, R = V::kRowVecs, VB = PanelSlice<V>::kVecBytes;
  constexpr size_t BS = sizeof(typename Format<WT>::Block);
  for (size_t j = 0; j < n_blocks; ++j)
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r)
      pack_block<V, WT>(s.q + (j * 8 * R + r) * VB, R * VB, first + r * L * row_bytes + j * BS, row_bytes,
                        s.d + (j * R + r) * L, s.m + (j * R + r) * L);
}

inline int32_t load_dword(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Activation blocks of T tokens as the dot products read them: token t's block is x[t * stride].
// qs(t, k): its codes 4k..4k+3 as one dword; d, s: scale and scaled sum; start: the integer
// accumulator's start, -kOffset * sum(q_x), from starts (indexed as x) or, when null, computed.
template <class V, int kOffset>
struct ActView {
  const BlockQ8A32* x;
  size_t stride;
  const int32_t* starts;
  int32_t qs(size_t t, size_t k) const { return load_dword(x[t * stride].qs + 4 * k); }
  float d(size_t t) const { return x[t * stride].d; }
  float s(size_t t) const { return x[t * stride].s; }
  int32_t start(size_t t) const {
    if constexpr (kOffset == 0)
      return 0;
    else
      return starts != nullptr ? starts[t * stride] : -kOffset * V::qs_sum(x[t * stride].qs);
  }
};

// starts[i] = -kOffset * sum of the codes of x[i], i < n.
template <class V, int kOffset>
void fill_starts(int32_t* starts, const BlockQ8A32* x, size_t n) {
  for (size_t i = 0; i < n; ++i) starts[i] = -kOffset * V::qs_sum(x[i].qs);
}

// ia[r][t] = start + integer dot of one weight block, whose 8 vectors of row vector r are
// w_at(k, r), with token t's activation block.
template <class V, DType WT, size_t R, size_t T, class WeightAt, class Acts>
inline void block_dots(typename V::I (&ia)[R][T], const WeightAt& w_at, const Acts& x) {
  using I = typename V::I;
  constexpr bool kStart = code_offset<V, WT>() != 0;
#pragma GCC unroll 16
  for (size_t t = 0; t < T; ++t)
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) ia[r][t] = kStart ? V::set1_i32(x.start(t)) : V::zero_i();
  if constexpr (V::kVnni) {
    // With fewer than 4 accumulators, odd steps go to a second set so that two vpdpbusd chains
    // (5-cycle latency) run side by side.
    constexpr bool kSplit = R * T < 4;
    I odd[R][T];
    if constexpr (kSplit) {
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (size_t t = 0; t < T; ++t) odd[r][t] = V::zero_i();
    }
#pragma GCC unroll 8
    for (size_t k = 0; k < 8; ++k) {
      I w[R];
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r) w[r] = w_at(k, r);
#pragma GCC unroll 16
      for (size_t t = 0; t < T; ++t) {
        const I xv = V::set1_i32(x.qs(t, k));
#pragma GCC unroll 16
        for (size_t r = 0; r < R; ++r) {
          if (kSplit && k % 2 == 1)
            odd[r][t] = V::dot(odd[r][t], w[r], xv);
          else
            ia[r][t] = V::dot(ia[r][t], w[r], xv);
        }
      }
    }
    if constexpr (kSplit) {
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (size_t t = 0; t < T; ++t) ia[r][t] = V::add_i32(ia[r][t], odd[r][t]);
    }
  } else {
    constexpr size_t G = i16_group<WT>();
#pragma GCC unroll 8
    for (size_t g = 0; g < 8; g += G) {
      I s16[R][T];
#pragma GCC unroll 8
      for (size_t kk = 0; kk < G; ++kk) {
        const size_t k = g + kk;
        if constexpr (Format<WT>::kBits == 8) {
          typename V::SignedW w[R];
#pragma GCC unroll 16
          for (size_t r = 0; r < R; ++r) w[r] = V::prep_signed(w_at(k, r));
#pragma GCC unroll 16
          for (size_t t = 0; t < T; ++t) {
            const I xv = V::set1_i32(x.qs(t, k));
#pragma GCC unroll 16
            for (size_t r = 0; r < R; ++r)
              s16[r][t] = V::maddubs(V::signed_abs(w[r]), V::apply_sign(xv, w[r]));
          }
        } else {
          I w[R];
#pragma GCC unroll 16
          for (size_t r = 0; r < R; ++r) w[r] = w_at(k, r);
#pragma GCC unroll 16
          for (size_t t = 0; t < T; ++t) {
            const I xv = V::set1_i32(x.qs(t, k));
#pragma GCC unroll 16
            for (size_t r = 0; r < R; ++r) {
              const I p = V::maddubs(w[r], xv);
              s16[r][t] = kk == 0 ? p : V::add16(s16[r][t], p);
            }
          }
        }
      }
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (size_t t = 0; t < T; ++t) ia[r][t] = V::widen_add(ia[r][t], s16[r][t]);
    }
  }
}

// f[r][t] += ia[r][t] * (d_w[r] * d_x[t]) (+ m_w[r] * s_x[t]) for one block.
template <class V, DType WT, size_t R, size_t T, class Acts>
inline void scale_dots(typename V::F (&f)[R][T], const typename V::I (&ia)[R][T],
                       const typename V::F (&dw)[R], const typename V::F (&mw)[R], const Acts& x) {
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) {
      const typename V::F scale = V::mul(dw[r], V::set1_f(x.d(t)));
      f[r][t] = V::fmadd(V::to_f(ia[r][t]), scale, f[r][t]);
      if constexpr (Format<WT>::kMin != kNoField) f[r][t] = V::fmadd(mw[r], V::set1_f(x.s(t)), f[r][t]);
    }
  }
}

// T tokens x P rows over the n_blocks blocks of one slice, accumulated into acc: [T][P] f32.
// x: token 0's first block of the slice, token t's at x[t * nb]; starts: indexed as x, or null.
template <class V, DType WT, size_t T>
void panel_tile(float* acc, const PanelSlice<V>& s, size_t n_blocks, const BlockQ8A32* x, size_t nb,
                const int32_t* starts) {
  using I = typename V::I;
  using F = typename V::F;
  constexpr size_t L = V::kLanes, R = V::kRowVecs, P = R * L, VB = PanelSlice<V>::kVecBytes;
  F f[R][T];
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) f[r][t] = V::load_f(acc + t * P + r * L);
  for (size_t j = 0; j < n_blocks; ++j) {
    const uint8_t* wq = s.q + j * 8 * R * VB;
    const ActView<V, code_offset<V, WT>()> xv{x + j, nb, starts != nullptr ? starts + j : nullptr};
    I ia[R][T];
    block_dots<V, WT, R, T>(
        ia, [wq](size_t k, size_t r) { return V::load_i(wq + (k * R + r) * VB); }, xv);
    F dw[R], mw[R];
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) {
      dw[r] = V::load_f(s.d + (j * R + r) * L);
      mw[r] = Format<WT>::kMin != kNoField ? V::load_f(s.m + (j * R + r) * L) : dw[r];
    }
    scale_dots<V, WT, R, T>(f, ia, dw, mw, xv);
  }
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) V::store_f(acc + t * P + r * L, f[r][t]);
}

// The last n_left (< kTileTokens) tokens: the tile with T == n_left.
template <class V, DType WT, size_t T>
void panel_tile_tail(float* acc, const PanelSlice<V>& s, size_t n_blocks, const BlockQ8A32* x, size_t nb,
                     const int32_t* starts, size_t n_left) {
  if (n_left == T) {
    panel_tile<V, WT, T>(acc, s, n_blocks, x, nb, starts);
  } else if constexpr (T > 1) {
    panel_tile_tail<V, WT, T - 1>(acc, s, n_blocks, x, nb, starts, n_left);
  }
}

// Decode path: kLanes rows (row0.., first at w_row0, row_bytes apart) x T tokens over all nb
// blocks, unpacked into registers and used at once, without a panel: with few tokens a panel's
// store and reload would cost as much as the dot products. starts: [T][nb] or null.
// next: a later group's kLanes rows (contiguous), prefetched into L2 a slice per block, or null.
// Each row alone is too short a stream (1-6 KiB) for the hardware prefetchers to ramp up on.
template <class V, DType WT, size_t T>
void direct_group(float* y, const BlockQ8A32* x, const int32_t* starts, const uint8_t* w_row0,
                  size_t row_bytes, size_t nb, size_t d_out, size_t row0, const float* bias,
                  const uint8_t* next) {
  using I = typename V::I;
  using F = typename V::F;
  constexpr size_t BS = sizeof(typename Format<WT>::Block), kStep = V::kLanes * BS;
  F f[1][T];
#pragma GCC unroll 16
  for (size_t t = 0; t < T; ++t) f[0][t] = V::zero_f();
  for (size_t j = 0; j < nb; ++j) {
    if (next != nullptr)
      for (size_t at = 0; at < kStep; at += 64)
        _mm_prefetch(reinterpret_cast<const char*>(next + j * kStep + at), _MM_HINT_T1);
    I v[8], dm;
    unpack_block<V, WT>(v, dm, w_row0 + j * BS, row_bytes);
    const ActView<V, code_offset<V, WT>()> xv{x + j, nb, starts != nullptr ? starts + j : nullptr};
    I ia[1][T];
    block_dots<V, WT, 1, T>(
        ia, [&v](size_t k, size_t) { return v[k]; }, xv);
    const F dw[1] = {V::f16_low_to_f(dm)};
    const F mw[1] = {Format<WT>::kMin != kNoField ? V::f16_high_to_f(dm) : dw[0]};
    scale_dots<V, WT, 1, T>(f, ia, dw, mw, xv);
  }
  const F b = bias != nullptr ? V::load_f(bias + row0) : V::zero_f();
#pragma GCC unroll 16
  for (size_t t = 0; t < T; ++t) V::store_f(y + t * d_out + row0, V::add_f(f[0][t], b));
}

// direct_group for T == n_tokens.
template <class V, DType WT, size_t T>
void direct_tokens(float* y, const BlockQ8A32* x, const int32_t* starts, const uint8_t* w_row0,
                   size_t row_bytes, size_t nb, size_t d_out, size_t row0, const float* bias,
                   const uint8_t* next, size_t n_tokens) {
  if (n_tokens == T) {
    direct_group<V, WT, T>(y, x, starts, w_row0, row_bytes, nb, d_out, row0, bias, next);
  } else if constexpr (T > 1) {
    direct_tokens<V, WT, T - 1>(y, x, starts, w_row0, row_bytes, nb, d_out, row0, bias, next, n_tokens);
  }
}

// The kernels allocate nothing (a forward pass must not): their buffers live on the stack,
// ~140 KiB in all. Accumulator starts of a token chunk, [chunk][nb]; where a whole tile's do not
// fit (rows of more than ~80K elements) they are computed where used.
inline constexpr size_t kStartCapacity = 16384;
// Tokens per chunk at most (the accumulators of a chunk for one panel: [chunk][P] f32).
inline constexpr size_t kMaxChunkTokens = 240;

// The accumulator starts of n activation blocks (decode) in buf, or null where the format has no
// offset or they do not fit (then computed where used).
template <class V, DType WT>
const int32_t* decode_starts(int32_t* buf, const BlockQ8A32* x, size_t n) {
  constexpr int kOffset = code_offset<V, WT>();
  if (kOffset == 0 || n > kStartCapacity) return nullptr;
  fill_starts<V, kOffset>(buf, x, n);
  return buf;
}

// Prefill path: rows [row_begin, row_end) x n_tokens through panels of P rows.
// pack(slice, row0, n_rows, b0, n_blocks) fills the slice with blocks b0.. of rows row0.. (rows past
// n_rows zero).
template <class V, DType WT, class PackFn>
void panel_matmul(float* y, const BlockQ8A32* x, const float* bias, size_t n_tokens, size_t nb, size_t d_out,
                  size_t row_begin, size_t row_end, const PackFn& pack) {
  constexpr size_t P = PanelSlice<V>::kRows, T = V::kTileTokens;
  static_assert(P <= kMaxPanelRows && kMaxChunkTokens % T == 0);
  constexpr int kOffset = code_offset<V, WT>();
  int32_t starts_buf[kStartCapacity];
  // Token chunks keep the chunk's activations (re-read for every panel) in L2 and its starts in
  // starts_buf.
  size_t chunk = simd::kMatmulTokenChunkBytes / (nb * sizeof(BlockQ8A32));
  if (kOffset != 0 && kStartCapacity / nb >= T) chunk = std::min(chunk, kStartCapacity / nb);
  chunk = std::max(T, std::min(chunk, kMaxChunkTokens) / T * T);
  PanelSlice<V> slice;
  alignas(64) float acc[kMaxChunkTokens * P];  // [chunk][P]
  for (size_t tc = 0; tc < n_tokens; tc += chunk) {
    const size_t nt = std::min(chunk, n_tokens - tc);
    const BlockQ8A32* xc = x + tc * nb;
    const int32_t* starts = nullptr;
    if (kOffset != 0 && nt * nb <= kStartCapacity) {
      fill_starts<V, kOffset>(starts_buf, xc, nt * nb);
      starts = starts_buf;
    }
    for (size_t row0 = row_begin; row0 < row_end; row0 += P) {
      const size_t n_rows = std::min(P, row_end - row0);
      std::fill(acc, acc + nt * P, 0.0f);
      for (size_t b0 = 0; b0 < nb; b0 += kSliceBlocks) {
        const size_t n_blocks = std::min(kSliceBlocks, nb - b0);
        pack(slice, row0, n_rows, b0, n_blocks);
        const int32_t* slice_starts = starts != nullptr ? starts + b0 : nullptr;
        size_t t = 0;
        for (; t + T <= nt; t += T)
          panel_tile<V, WT, T>(acc + t * P, slice, n_blocks, xc + t * nb + b0, nb,
                               slice_starts != nullptr ? slice_starts + t * nb : nullptr);
        if (t < nt)
          panel_tile_tail<V, WT, T - 1>(acc + t * P, slice, n_blocks, xc + t * nb + b0, nb,
                                        slice_starts != nullptr ? slice_starts + t * nb : nullptr, nt - t);
      }
      for (size_t t = 0; t < nt; ++t) {
        float* y_t = y + (tc + t) * d_out + row0;  // [n_rows]
        const float* acc_t = acc + t * P;          // [P]
        if (n_rows == P) {
#pragma GCC unroll 4
          for (size_t r = 0; r < V::kRowVecs; ++r) {
            const typename V::F b = bias != nullptr ? V::load_f(bias + row0 + r * V::kLanes) : V::zero_f();
            V::store_f(y_t + r * V::kLanes, V::add_f(V::load_f(acc_t + r * V::kLanes), b));
          }
        } else {
          for (size_t i = 0; i < n_rows; ++i) y_t[i] = acc_t[i] + (bias != nullptr ? bias[row0 + i] : 0.0f);
        }
      }
    }
  }
}

template <class V, DType WT>
void qmatmul_rows(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  using Block = typename Format<WT>::Block;
  constexpr size_t P = PanelSlice<V>::kRows, BS = sizeof(Block);
  const size_t nb = d_in / kQK32, row_bytes = nb * BS;
  const BlockQ8A32* x = static_cast<const BlockQ8A32*>(xq);
  const uint8_t* w_bytes = static_cast<const uint8_t*>(w);
  if (n_tokens <= kDirectTokens) {
    int32_t starts_buf[kStartCapacity];
    const int32_t* starts = decode_starts<V, WT>(starts_buf, x, n_tokens * nb);
    for (; row_begin + V::kLanes <= row_end; row_begin += V::kLanes) {
      const uint8_t* rows = w_bytes + row_begin * row_bytes;
      // Prefetch two groups ahead (one is too close to hide the latency at this pace).
      const bool has_next = row_begin + 3 * V::kLanes <= row_end;
      direct_tokens<V, WT, kDirectTokens>(y, x, starts, rows, row_bytes, nb, d_out, row_begin, bias,
                                          has_next ? rows + 2 * V::kLanes * row_bytes : nullptr, n_tokens);
    }
    if (row_begin == row_end) return;
  }
  // A last panel of fewer than P rows is packed from a copy padded with zero blocks, which
  // contribute exact zeros: [P][kSliceBlocks] blocks.
  alignas(64) uint8_t padded[P * kSliceBlocks * BS];
  panel_matmul<V, WT>(y, x, bias, n_tokens, nb, d_out, row_begin, row_end,
                      [&](PanelSlice<V>& slice, size_t row0, size_t n_rows, size_t b0, size_t n_blocks) {
                        const uint8_t* first = w_bytes + row0 * row_bytes + b0 * BS;
                        if (n_rows == P) {
                          pack_slice<V, WT>(slice, first, row_bytes, n_blocks);
                        } else {
                          std::memset(padded, 0, sizeof(padded));
                          for (size_t i = 0; i < n_rows; ++i)
                            std::memcpy(padded + i * kSliceBlocks * BS, first + i * row_bytes, n_blocks * BS);
                          pack_slice<V, WT>(slice, padded, kSliceBlocks * BS, n_blocks);
                        }
                      });
}

// ---- Weights repacked in groups of 16 rows (kernels/repack.h): Q4_0 and Q8_0 ----

// Codes of one block of the kLanes rows from lane `lane` of a group (codes: the block's first code
// vector), as unpack_block leaves them: v[k] lane l = codes 4k..4k+3 of row lane + l.
template <class V, DType WT>
inline void unpack_repacked(typename V::I* v, const uint8_t* codes, size_t lane) {
  static_assert(WT == DType::Q4_0 || WT == DType::Q8_0);
  if constexpr (WT == DType::Q8_0) {
#pragma GCC unroll 8
    for (size_t k = 0; k < 8; ++k) {
      v[k] = V::load_i(codes + 64 * k + 4 * lane);
      if constexpr (V::kVnni) v[k] = V::flip_sign_bit(v[k]);
    }
  } else {
#pragma GCC unroll 4
    for (size_t k = 0; k < 4; ++k) {
      const typename V::I raw = V::load_i(codes + 64 * k + 4 * lane);
      v[k] = V::nibble_lo(raw);
      v[k + 4] = V::nibble_hi(raw);
    }
  }
}

// Decode path over S groups at once (group s: 16 rows from row0[s], first byte at group[s]) x T
// tokens: each group is one sequential stream, and one stream per core reaches only ~75% of the
// read bandwidth where four reach all of it; each stream is also prefetched kPrefetchBytes ahead
// (the hardware prefetchers stop at 4 KiB pages).
inline constexpr size_t kPrefetchBytes = 1024;
template <class V, DType WT, size_t T, size_t S>
void repacked_groups(float* y, const BlockQ8A32* x, const int32_t* starts, const uint8_t* const* group,
                     const size_t* row0, size_t nb, size_t d_out, const float* bias) {
  using I = typename V::I;
  using F = typename V::F;
  constexpr size_t R = kRepackRows / V::kLanes, BS = sizeof(typename Format<WT>::Block);
  constexpr size_t kBlockBytes = kRepackRows * BS;  // of one group
  F f[S][R][T];
#pragma GCC unroll 16
  for (size_t s = 0; s < S; ++s)
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (size_t t = 0; t < T; ++t) f[s][r][t] = V::zero_f();
  for (size_t j = 0; j < nb; ++j) {
    const ActView<V, code_offset<V, WT>()> xv{x + j, nb, starts != nullptr ? starts + j : nullptr};
#pragma GCC unroll 4
    for (size_t s = 0; s < S; ++s) {
      const uint8_t* ahead = group[s] + j * kBlockBytes + kPrefetchBytes;
#pragma GCC unroll 16
      for (size_t at = 0; at < kBlockBytes; at += 64)
        _mm_prefetch(reinterpret_cast<const char*>(ahead + at), _MM_HINT_T0);
      const uint8_t* codes = group[s] + repacked_codes_offset(BS, j);
      const uint8_t* scales = group[s] + repacked_scales_offset(BS, j);
      I v[R][8];
#pragma GCC unroll 4
      for (size_t r = 0; r < R; ++r) unpack_repacked<V, WT>(v[r], codes, r * V::kLanes);
      I ia[R][T];
      block_dots<V, WT, R, T>(
          ia, [&v](size_t k, size_t r) { return v[r][k]; }, xv);
      F dw[R];
#pragma GCC unroll 4
      for (size_t r = 0; r < R; ++r) dw[r] = V::load_f16(scales + 2 * r * V::kLanes);
      scale_dots<V, WT, R, T>(f[s], ia, dw, dw, xv);
    }
  }
#pragma GCC unroll 4
  for (size_t s = 0; s < S; ++s) {
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      const size_t o = row0[s] + r * V::kLanes;
      const F b = bias != nullptr ? V::load_f(bias + o) : V::zero_f();
#pragma GCC unroll 16
      for (size_t t = 0; t < T; ++t) V::store_f(y + t * d_out + o, V::add_f(f[s][r][t], b));
    }
  }
}

// Groups [g_begin, g_end) of a repacked matrix (w_bytes) for T tokens: kStreams groups at a time
// from kStreams evenly spaced positions, then the rest one by one.
template <class V, DType WT, size_t T>
void repacked_decode(float* y, const BlockQ8A32* x, const int32_t* starts, const uint8_t* w_bytes,
                     size_t row_bytes, size_t nb, size_t d_out, const float* bias, size_t g_begin, size_t g_end) {
  // Accumulators: kStreams * (16 / kLanes) * T vectors; fewer streams as tokens grow.
  constexpr size_t kStreams = T == 1 ? 4 : T == 2 ? 2 : 1;
  const size_t group_bytes = kRepackRows * row_bytes;
  const size_t per_stream = (g_end - g_begin) / kStreams;
  for (size_t i = 0; i < per_stream; ++i) {
    const uint8_t* group[kStreams];
    size_t row0[kStreams];
    for (size_t s = 0; s < kStreams; ++s) {
      const size_t g = g_begin + s * per_stream + i;
      group[s] = w_bytes + g * group_bytes;
      row0[s] = g * kRepackRows;
    }
    repacked_groups<V, WT, T, kStreams>(y, x, starts, group, row0, nb, d_out, bias);
  }
  for (size_t g = g_begin + kStreams * per_stream; g < g_end; ++g) {
    const uint8_t* group[1] = {w_bytes + g * group_bytes};
    const size_t row0[1] = {g * kRepackRows};
    repacked_groups<V, WT, T, 1>(y, x, starts, group, row0, nb, d_out, bias);
  }
}

template <class V, DType WT, size_t T>
void repacked_tokens(float* y, const BlockQ8A32* x, const int32_t* starts, const uint8_t* w_bytes,
                     size_t row_bytes, size_t nb, size_t d_out, const float* bias, size_t g_begin, size_t g_end,
                     size_t n_tokens) {
  if (n_tokens == T) {
    repacked_decode<V, WT, T>(y, x, starts, w_bytes, row_bytes, nb, d_out, bias, g_begin, g_end);
  } else if constexpr (T > 1) {
    repacked_tokens<V, WT, T - 1>(y, x, starts, w_bytes, row_bytes, nb, d_out, bias, g_begin, g_end, n_tokens);
  }
}

// Packs blocks b0 .. b0 + n_blocks of panel rows row0 .. row0 + P from a repacked matrix; panel
// rows at or past n_rows (a multiple of 16) get zero codes and scales.
template <class V, DType WT>
void pack_slice_repacked(PanelSlice<V>& s, const uint8_t* w, size_t row_bytes, size_t row0, size_t n_rows,
                         size_t b0, size_t n_blocks) {
  constexpr size_t L = V::kLanes, R = V::kRowVecs, VB = PanelSlice<V>::kVecBytes;
  constexpr size_t BS = sizeof(typename Format<WT>::Block);
  for (size_t j = 0; j < n_blocks; ++j) {
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      uint8_t* dst = s.q + (j * 8 * R + r) * VB;
      float* d = s.d + (j * R + r) * L;
      typename V::I v[8];
      if (r * L >= n_rows) {
#pragma GCC unroll 8
        for (size_t k = 0; k < 8; ++k) V::store_i(dst + k * R * VB, V::zero_i());
        V::store_f(d, V::zero_f());
        continue;
      }
      const size_t row = row0 + r * L;
      const uint8_t* group = w + row / kRepackRows * kRepackRows * row_bytes;
      unpack_repacked<V, WT>(v, group + repacked_codes_offset(BS, b0 + j), row % kRepackRows);
#pragma GCC unroll 8
      for (size_t k = 0; k < 8; ++k) V::store_i(dst + k * R * VB, v[k]);
      V::store_f(d, V::load_f16(group + repacked_scales_offset(BS, b0 + j) + 2 * (row % kRepackRows)));
    }
  }
}

// qmatmul_rows over a repacked matrix; row_begin and row_end are multiples of 16.
template <class V, DType WT>
void qmatmul_rows_repacked(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens,
                           size_t d_in, size_t d_out, size_t row_begin, size_t row_end) {
  constexpr size_t BS = sizeof(typename Format<WT>::Block);
  const size_t nb = d_in / kQK32, row_bytes = nb * BS;
  const BlockQ8A32* x = static_cast<const BlockQ8A32*>(xq);
  const uint8_t* w_bytes = static_cast<const uint8_t*>(w);
  if (n_tokens <= kDirectTokens) {
    int32_t starts_buf[kStartCapacity];
    const int32_t* starts = decode_starts<V, WT>(starts_buf, x, n_tokens * nb);
    repacked_tokens<V, WT, kDirectTokens>(y, x, starts, w_bytes, row_bytes, nb, d_out, bias,
                                          row_begin / kRepackRows, row_end / kRepackRows, n_tokens);
    return;
  }
  panel_matmul<V, WT>(y, x, bias, n_tokens, nb, d_out, row_begin, row_end,
                      [&](PanelSlice<V>& slice, size_t row0, size_t n_rows, size_t b0, size_t n_blocks) {
                        pack_slice_repacked<V, WT>(slice, w_bytes, row_bytes, row0, n_rows, b0, n_blocks);
                      });
}

template <class V>
void add_kernels(KernelTable& t) {
  t.quantize_q8a32 = quantize_q8a32<V>;
  t.qmatmul_rows[quant_index(DType::Q4_0)] = qmatmul_rows<V, DType::Q4_0>;
  t.qmatmul_rows[quant_index(DType::Q4_1)] = qmatmul_rows<V, DType::Q4_1>;
  t.qmatmul_rows[quant_index(DType::Q5_0)] = qmatmul_rows<V, DType::Q5_0>;
  t.qmatmul_rows[quant_index(DType::Q5_1)] = qmatmul_rows<V, DType::Q5_1>;
  t.qmatmul_rows[quant_index(DType::Q8_0)] = qmatmul_rows<V, DType::Q8_0>;
  t.qmatmul_rows[quant_index(DType::Q4_0_R16)] = qmatmul_rows_repacked<V, DType::Q4_0>;
  t.qmatmul_rows[quant_index(DType::Q8_0_R16)] = qmatmul_rows_repacked<V, DType::Q8_0>;
  t.prefers_repacked = true;
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
// AVX-512 BW traits; kVnniDot selects vpdpbusd (instantiate true only where VNNI is enabled).
template <bool kVnniDot>
struct Avx512Q32 {
  using I = __m512i;
  using F = __m512;
  static constexpr size_t kLanes = 16, kRowVecs = 2, kTileTokens = kVnniDot ? 6 : 4;
  static constexpr bool kVnni = kVnniDot;

  static I zero_i() { return _mm512_setzero_si512(); }
  static I set1_i32(int32_t v) { return _mm512_set1_epi32(v); }
  static I load_i(const void* p) { return _mm512_load_si512(p); }
  static void store_i(void* p, I v) { _mm512_store_si512(p, v); }
  static I load_rows128(const uint8_t* p, size_t step) {
    I v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + step)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * step)), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 3 * step)), 3);
  }
  static I gather_u32(const uint8_t* p, size_t step) {
    const I offsets =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(int32_t(step)));
    return _mm512_i32gather_epi32(offsets, p, 1);
  }
  static I unpacklo32(I a, I b) { return _mm512_unpacklo_epi32(a, b); }
  static I unpackhi32(I a, I b) { return _mm512_unpackhi_epi32(a, b); }
  static I unpacklo64(I a, I b) { return _mm512_unpacklo_epi64(a, b); }
  static I unpackhi64(I a, I b) { return _mm512_unpackhi_epi64(a, b); }
  static I nibble_lo(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(15)); }
  static I nibble_hi(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(15)); }
  static I flip_sign_bit(I v) { return _mm512_xor_si512(v, _mm512_set1_epi8(char(0x80))); }
  static I add_high_bits(I v, I qh, size_t k) {
    // Byte k / 2 of each lane's qh to all 4 bytes of the lane, then test bit 4 (k % 2) + j.
    const int32_t c = int32_t(k / 2) * 0x01010101;
    const I ctrl = _mm512_broadcast_i32x4(_mm_setr_epi32(c, c + 0x04040404, c + 0x08080808, c + 0x0c0c0c0c));
    const I bytes = _mm512_shuffle_epi8(qh, ctrl);
    const __mmask64 set =
        _mm512_test_epi8_mask(bytes, _mm512_set1_epi32(int32_t(0x08040201u << (4 * (k % 2)))));
    return _mm512_mask_add_epi8(v, set, v, _mm512_set1_epi8(16));
  }
  static I dot(I acc, I w, I x) {
    if constexpr (kVnniDot)
      return _mm512_dpbusd_epi32(acc, w, x);
    else
      return acc;
  }
  static I maddubs(I w, I x) { return _mm512_maddubs_epi16(w, x); }
  static I add16(I a, I b) { return _mm512_add_epi16(a, b); }
  static I widen_add(I acc, I s16) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(s16, _mm512_set1_epi16(1)));
  }
  static I add_i32(I a, I b) { return _mm512_add_epi32(a, b); }
  struct SignedW {
    I abs;
    __mmask64 negative;
  };
  static SignedW prep_signed(I w) { return {_mm512_abs_epi8(w), _mm512_movepi8_mask(w)}; }
  static I signed_abs(const SignedW& w) { return w.abs; }
  static I apply_sign(I x, const SignedW& w) {
    return _mm512_mask_sub_epi8(x, w.negative, _mm512_setzero_si512(), x);
  }

  static F f16_low_to_f(I v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
  static F f16_high_to_f(I v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16))); }
  static F load_f16(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F load_f(const float* p) { return _mm512_loadu_ps(p); }
  static F zero_f() { return _mm512_setzero_ps(); }
  static F add_f(F a, F b) { return _mm512_add_ps(a, b); }
  static void store_f(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F set1_f(float v) { return _mm512_set1_ps(v); }
  static F to_f(I v) { return _mm512_cvtepi32_ps(v); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }

  static void quantize_block(const float* x, BlockQ8A32* out) {
    const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    // cvtps rounds to nearest even under the default MXCSR, as nearbyint does.
    const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, _mm512_set1_ps(id)));
    const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, _mm512_set1_ps(id)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out->qs), _mm512_cvtepi32_epi8(qa));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out->qs + 16), _mm512_cvtepi32_epi8(qb));
    out->d = d;
    out->s = d * float(_mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb)));
  }
  static int32_t qs_sum(const int8_t* qs) {
    // Sum of (q + 128) by vpsadbw, then remove the 32 * 128 bias.
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)),
                                       _mm256_set1_epi8(char(0x80)));
    const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return int32_t(_mm_cvtsi128_si64(_mm_add_epi64(h, _mm_unpackhi_epi64(h, h)))) - 32 * 128;
  }
};
#endif

}  // namespace tokenmill::kernels::q32
