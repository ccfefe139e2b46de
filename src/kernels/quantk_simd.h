// ISA-independent bodies of the K-quant (Q2_K .. Q6_K) SIMD kernels, instantiated by
// quantk_avx2.cpp, quantk_avx512.cpp and quantk_avx512vnni.cpp with their own traits V, plus the
// AVX-512 traits shared by the last two. Include only from those files: everything here is in an
// unnamed namespace, so each ISA's instantiations are its own symbols.
//
// Every type is computed in one form (see ref/quantk_ref.cpp for the bit layouts): a super-block
// of weights is unpacked into unsigned quants u[i] (Q2_K 0..3, Q3_K 0..7, Q4_K 0..15, Q5_K 0..31,
// Q6_K 0..63), one int8 scale per 16-element group g (sc16[g]; a 32-element sub-block's scale
// twice) and one f32 "min" per group mw[g], such that
//   w[i] * x[i] summed = d * dx * sum_g sc16[g] * sum_{i in g} u[i] * qx[i]
//                      + dx * sum_g mw[g] * bsums[g].
// Q2_K, Q4_K, Q5_K: mw = -dmin * m; Q3_K (q = u - 4): mw = -4 * d * sc; Q6_K (q = u - 32):
// mw = -32 * d * sc. The integer part runs as maddubs(u8 weights, s8 activations) -> int16 pairs
// (|pair| <= 2 * 63 * 127 < 2^15), then madd (or VNNI dpwssd) with the int16 group scales ->
// int32 lanes; one super-block's int32 sums are converted to f32 once per (row, token).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"

namespace tokenmill::kernels::quantk {
namespace {

// Activation rows (tokens) a thread keeps resident while its weight rows stream past: half of a
// 2 MiB L2, as the float matmul does.
constexpr size_t kTokenChunkBytes = size_t(1) << 20;

template <class Fn, size_t... Ks>
inline void static_for_impl(Fn& fn, std::index_sequence<Ks...>) {
  (fn(std::integral_constant<size_t, Ks>{}), ...);
}
// fn(std::integral_constant<size_t, k>) for k = 0 .. N-1, so k can be a shift count or index.
template <size_t N, class Fn>
inline void static_for(Fn&& fn) {
  static_for_impl(fn, std::make_index_sequence<N>{});
}

// The per-super-block parameters of the common form, before they are widened for an ISA:
// sc16 and m16 are 16 int8 values (one per 16-element group); factors = [d, m_factor, 0, 0] with
// mw[g] = m_factor * m16[g].
struct BlockParams {
  __m128i sc16;
  __m128i m16;
  __m128 factors;
};

// The f16 pair at p (d, dmin) as [d, dmin, 0, 0].
inline __m128 half_pair(const uint16_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(int(bits)));
}

// Q4_K / Q5_K: the 8 6-bit scales and mins from their 12 packed bytes, as 32-bit lanes
// [sc 0..3, m 0..3, sc 4..7, m 4..7]; then each repeated for the two 16-element groups of its
// 32-element sub-block. Reads 16 bytes at `packed` (the block continues past the 12).
inline BlockParams k4_params(const uint8_t* packed, const uint16_t* d_dmin) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));  // [u0, u1, u2, -]
  const __m128i low6 = _mm_and_si128(v, _mm_setr_epi32(0x3f3f3f3f, 0x3f3f3f3f, 0, 0));
  const __m128i u2 =
      _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 0)), _mm_setr_epi32(0, 0, 0, 4));
  const __m128i nibbles = _mm_and_si128(u2, _mm_setr_epi32(0, 0, 0x0f0f0f0f, 0x0f0f0f0f));
  const __m128i u01 = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0));
  const __m128i top2 = _mm_and_si128(_mm_srli_epi32(u01, 2), _mm_setr_epi32(0, 0, 0x30303030, 0x30303030));
  const __m128i bytes = _mm_or_si128(_mm_or_si128(low6, nibbles), top2);
  const __m128i dup_sc = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 8, 8, 9, 9, 10, 10, 11, 11);
  const __m128i dup_m = _mm_setr_epi8(4, 4, 5, 5, 6, 6, 7, 7, 12, 12, 13, 13, 14, 14, 15, 15);
  return {_mm_shuffle_epi8(bytes, dup_sc), _mm_shuffle_epi8(bytes, dup_m),
          _mm_mul_ps(half_pair(d_dmin), _mm_setr_ps(1.0f, -1.0f, 0.0f, 0.0f))};
}

static_assert(offsetof(BlockQ4_K, dmin) == offsetof(BlockQ4_K, d) + 2 &&
              offsetof(BlockQ5_K, dmin) == offsetof(BlockQ5_K, d) + 2 &&
              offsetof(BlockQ2_K, dmin) == offsetof(BlockQ2_K, d) + 2);

inline BlockParams params(const BlockQ4_K& b) {
  return k4_params(b.scales, &b.d);
}
inline BlockParams params(const BlockQ5_K& b) {
  return k4_params(b.scales, &b.d);
}

// [d, factor * d, 0, 0] for a block with one f16 scale d.
inline __m128 d_and_multiple(uint16_t d, float factor) {
  const __m128 v = _mm_cvtph_ps(_mm_cvtsi32_si128(d));
  return _mm_mul_ps(_mm_moveldup_ps(v), _mm_setr_ps(1.0f, factor, 0.0f, 0.0f));
}

inline BlockParams params(const BlockQ6_K& b) {
  const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
  return {sc, sc, d_and_multiple(b.d, -32.0f)};
}

inline BlockParams params(const BlockQ2_K& b) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
  const __m128i nibble = _mm_set1_epi8(15);
  return {_mm_and_si128(v, nibble), _mm_and_si128(_mm_srli_epi16(v, 4), nibble),
          _mm_mul_ps(half_pair(&b.d), _mm_setr_ps(1.0f, -1.0f, 0.0f, 0.0f))};
}

// Q3_K: 16 6-bit scales (low nibbles in bytes 0..7, two high bits each in bytes 8..11), - 32.
inline BlockParams params(const BlockQ3_K& b) {
  uint64_t low_bytes;
  uint32_t high_bytes;
  std::memcpy(&low_bytes, b.scales, 8);
  std::memcpy(&high_bytes, b.scales + 8, 4);
  const __m128i a = _mm_cvtsi64_si128(int64_t(low_bytes));
  const __m128i low = _mm_and_si128(_mm_unpacklo_epi64(a, _mm_srli_epi16(a, 4)), _mm_set1_epi8(15));
  const __m128i high_words = _mm_srlv_epi32(_mm_set1_epi32(int(high_bytes)), _mm_setr_epi32(0, 2, 4, 6));
  const __m128i high = _mm_slli_epi16(_mm_and_si128(high_words, _mm_set1_epi8(3)), 4);
  const __m128i sc = _mm_sub_epi8(_mm_or_si128(low, high), _mm_set1_epi8(32));
  return {sc, sc, d_and_multiple(b.d, -4.0f)};
}

// One register tile: R weight rows x T tokens over all of d_in. Each weight chunk is unpacked
// once and used for T tokens; the R*T int32 sums of a super-block are folded into f32
// accumulators at its end.
// x: tokens tok0.. as rows of nb BlockQ8K; w: all rows, nb blocks B each; rows: the tile's R row
// indices (any distinct rows); ahead: how far past each row's current block to prefetch, in
// rows; bias: [d_out] or null; y: [n_tokens, d_out].
template <class V, class B, size_t R, size_t T>
inline void tile(float* y, const BlockQ8K* x, const B* w, const float* bias, size_t nb, size_t d_out,
                 const size_t (&rows)[R], size_t ahead, size_t tok0) {
  using I = typename V::I;
  using F = typename V::F;
  F acc[R][T];
#pragma GCC unroll 8
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (size_t t = 0; t < T; ++t) acc[r][t] = V::fzero();
  for (size_t b = 0; b < nb; ++b) {
    const B* wb[R];
    typename V::Prep prep[R];
#pragma GCC unroll 8
    for (size_t r = 0; r < R; ++r) {
      wb[r] = w + rows[r] * nb + b;
      // The hardware prefetcher alone leaves decode (weights streamed from memory once)
      // latency-bound. Prefetches cannot fault, so addresses past the last row are harmless
      // (formed as integers).
      const auto ahead_p =
          reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(wb[r]) + ahead * nb * sizeof(B));
#pragma GCC unroll 4
      for (size_t line = 0; line < sizeof(B); line += 64) _mm_prefetch(ahead_p + line, _MM_HINT_T1);
      prep[r] = V::prepare(params(*wb[r]));
    }
    const BlockQ8K* xb[T];
#pragma GCC unroll 8
    for (size_t t = 0; t < T; ++t) xb[t] = x + (tok0 + t) * nb + b;
    I isum[R][T];
    static_for<V::kChunks>([&](auto chunk) {
      constexpr size_t k = decltype(chunk)::value;
      I wv[R], sv[R];
#pragma GCC unroll 8
      for (size_t r = 0; r < R; ++r) {
        wv[r] = V::template unpack<k>(*wb[r]);
        sv[r] = V::template chunk_scales<k>(prep[r]);
      }
#pragma GCC unroll 8
      for (size_t t = 0; t < T; ++t) {
        const I xv = V::load(xb[t]->qs + k * V::kChunkBytes);
#pragma GCC unroll 8
        for (size_t r = 0; r < R; ++r) {
          if constexpr (k == 0)
            isum[r][t] = V::dot(wv[r], xv, sv[r]);
          else
            isum[r][t] = V::dot_acc(isum[r][t], wv[r], xv, sv[r]);
        }
      }
    });
#pragma GCC unroll 8
    for (size_t t = 0; t < T; ++t) {
      const typename V::XPrep xp = V::x_prepare(*xb[t]);
#pragma GCC unroll 8
      for (size_t r = 0; r < R; ++r) acc[r][t] = V::finish(acc[r][t], isum[r][t], prep[r], xp);
    }
  }
#pragma GCC unroll 8
  for (size_t r = 0; r < R; ++r) {
    const float b = bias != nullptr ? bias[rows[r]] : 0.0f;
#pragma GCC unroll 8
    for (size_t t = 0; t < T; ++t) y[(tok0 + t) * d_out + rows[r]] = V::reduce_add(acc[r][t]) + b;
  }
}

// The last n_left (< T) tokens of a row block: the tile with exactly n_left tokens.
template <class V, class B, size_t R, size_t T>
inline void token_tail(float* y, const BlockQ8K* x, const B* w, const float* bias, size_t nb, size_t d_out,
                       const size_t (&rows)[R], size_t ahead, size_t tok0, size_t n_left) {
  if (n_left == T) {
    tile<V, B, R, T>(y, x, w, bias, nb, d_out, rows, ahead, tok0);
  } else if constexpr (T > 1) {
    token_tail<V, B, R, T - 1>(y, x, w, bias, nb, d_out, rows, ahead, tok0, n_left);
  }
}

// Tokens [tok_begin, tok_end) for the R rows `rows`.
template <class V, class B, size_t R>
inline void row_block(float* y, const BlockQ8K* x, const B* w, const float* bias, size_t nb, size_t d_out,
                      const size_t (&rows)[R], size_t ahead, size_t tok_begin, size_t tok_end) {
  constexpr size_t TT = V::kTileTokens;
  size_t t = tok_begin;
  for (; t + TT <= tok_end; t += TT) tile<V, B, R, TT>(y, x, w, bias, nb, d_out, rows, ahead, t);
  if (t < tok_end) token_tail<V, B, R, TT - 1>(y, x, w, bias, nb, d_out, rows, ahead, t, tok_end - t);
}

// Up to this many tokens (decode), a tile's rows come from kTileRows evenly spaced positions of
// the thread's rows, so the weights stream from memory as that many sequential streams, each
// prefetched kStreamAheadRows rows ahead: one stream per core reaches only ~75% of the read
// bandwidth where four reach all of it.
inline constexpr size_t kStreamTokens = 4;
inline constexpr size_t kStreamAheadRows = 2;

// QMatmulRowsFn for weights of block type B (kernel_table.h).
template <class V, class B>
void qmatmul_rows(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  constexpr size_t RT = V::kTileRows, TT = V::kTileTokens;
  const size_t nb = d_in / kQKK;
  const BlockQ8K* x = static_cast<const BlockQ8K*>(xq);
  const B* weights = static_cast<const B*>(w);
  if (n_tokens <= kStreamTokens) {
    const size_t per_stream = (row_end - row_begin) / RT;
    for (size_t i = 0; i < per_stream; ++i) {
      size_t rows[RT];
      for (size_t r = 0; r < RT; ++r) rows[r] = row_begin + r * per_stream + i;
      row_block<V, B, RT>(y, x, weights, bias, nb, d_out, rows, kStreamAheadRows, 0, n_tokens);
    }
    for (size_t r = row_begin + RT * per_stream; r < row_end; ++r) {
      const size_t rows[1] = {r};
      row_block<V, B, 1>(y, x, weights, bias, nb, d_out, rows, kStreamAheadRows, 0, n_tokens);
    }
    return;
  }
  // Within a token chunk every weight row tile is read from memory once and reused from cache by
  // each token tile; each row prefetches the same block of the row one tile below.
  const size_t chunk_fit = kTokenChunkBytes / (nb * sizeof(BlockQ8K));
  const size_t chunk = chunk_fit < TT ? TT : chunk_fit / TT * TT;
  for (size_t tc = 0; tc < n_tokens; tc += chunk) {
    const size_t tc_end = tc + chunk < n_tokens ? tc + chunk : n_tokens;
    size_t r = row_begin;
    for (; r + RT <= row_end; r += RT) {
      size_t rows[RT];
      for (size_t i = 0; i < RT; ++i) rows[i] = r + i;
      row_block<V, B, RT>(y, x, weights, bias, nb, d_out, rows, RT, tc, tc_end);
    }
    for (; r < row_end; ++r) {
      const size_t rows[1] = {r};
      row_block<V, B, 1>(y, x, weights, bias, nb, d_out, rows, 1, tc, tc_end);
    }
  }
}

// QuantizeActFn for BlockQ8K rows; V::quantize_block must match ref::quantize_q8k byte for byte.
template <class V>
void quantize_q8k(void* dst, const float* x, size_t n_rows, size_t d_in) {
  BlockQ8K* out = static_cast<BlockQ8K*>(dst);
  const size_t n_blocks = n_rows * (d_in / kQKK);
  for (size_t b = 0; b < n_blocks; ++b) V::quantize_block(x + b * kQKK, out[b]);
}

template <class V>
void add_kernels(KernelTable& t) {
  t.quantize_q8k = quantize_q8k<V>;
  t.qmatmul_rows[quant_index(DType::Q2_K)] = qmatmul_rows<V, BlockQ2_K>;
  t.qmatmul_rows[quant_index(DType::Q3_K)] = qmatmul_rows<V, BlockQ3_K>;
  t.qmatmul_rows[quant_index(DType::Q4_K)] = qmatmul_rows<V, BlockQ4_K>;
  t.qmatmul_rows[quant_index(DType::Q5_K)] = qmatmul_rows<V, BlockQ5_K>;
  t.qmatmul_rows[quant_index(DType::Q6_K)] = qmatmul_rows<V, BlockQ6_K>;
}

#if defined(__AVX512BW__)
// AVX-512 BW traits: a chunk is 64 consecutive elements of a super-block (4 per block); the
// int16 group scales sit in the low half of a zmm and vpermw spreads chunk k's four groups over
// its four 128-bit lanes. kVnni fuses madd + add into vpdpwssd.
template <bool kVnni>
struct Avx512Traits {
  using I = __m512i;
  using F = __m512;
  static constexpr size_t kChunkBytes = 64;
  static constexpr size_t kChunks = kQKK / kChunkBytes;
  // 4 rows (dispatch hands threads whole 4-row blocks) x 6 tokens: 24 int32 sums, so some spill,
  // yet each unpacked weight chunk serves 6 tokens; faster than 4x4, 2x8 and 3x8 when measured.
  static constexpr size_t kTileRows = 4;
  static constexpr size_t kTileTokens = 6;

  struct Prep {
    __m512i scales;  // 16 int16 group scales in the low 256 bits
    __m512 mins;     // mw[g]
    __m512 d;        // d in every lane
  };
  struct XPrep {
    __m512 bsums;  // dx * bsums[g]
    __m512 d;      // dx in every lane
  };

  static Prep prepare(const BlockParams& p) {
    const __m512 m_factor = _mm512_permutexvar_ps(_mm512_set1_epi32(1), _mm512_castps128_ps512(p.factors));
    return {_mm512_castsi256_si512(_mm256_cvtepi8_epi16(p.sc16)),
            _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(p.m16)), m_factor),
            _mm512_broadcastss_ps(p.factors)};
  }
  // int16 lane j of chunk K holds group 4 K + j / 8.
  template <size_t K>
  static I chunk_scales(const Prep& p) {
    const __m512i idx =
        _mm512_add_epi16(_mm512_set1_epi16(int16_t(4 * K)),
                         _mm512_set_epi64(0x0003000300030003, 0x0003000300030003, 0x0002000200020002,
                                          0x0002000200020002, 0x0001000100010001, 0x0001000100010001, 0, 0));
    return _mm512_permutexvar_epi16(idx, p.scales);
  }

  static I load(const int8_t* p) { return _mm512_loadu_si512(p); }
  // 32 bytes at p in both 256-bit halves.
  static I broadcast32(const uint8_t* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  // Per-byte constant: lo in the low 256 bits, hi in the high 256 bits.
  static I halves(uint8_t lo, uint8_t hi) {
    const auto l = static_cast<long long>(0x0101010101010101ull * lo);
    const auto h = static_cast<long long>(0x0101010101010101ull * hi);
    return _mm512_set_epi64(h, h, h, h, l, l, l, l);
  }
  // Shifts the low 256 bits right by lo bits and the high 256 bits by hi (64-bit lanes: only
  // bits that stay within their byte are kept by the callers' masks).
  template <int lo, int hi>
  static I shift_halves(I v) {
    return _mm512_srlv_epi64(v, _mm512_set_epi64(hi, hi, hi, hi, lo, lo, lo, lo));
  }
  static I low_bits(I v, int mask) { return _mm512_and_si512(v, _mm512_set1_epi8(char(mask))); }

  template <size_t K>
  static I unpack(const BlockQ4_K& b) {
    return low_bits(shift_halves<0, 4>(broadcast32(b.qs + 32 * K)), 15);
  }
  template <size_t K>
  static I unpack(const BlockQ5_K& b) {
    const I q = low_bits(shift_halves<0, 4>(broadcast32(b.qs + 32 * K)), 15);
    const __mmask64 high = _mm512_test_epi8_mask(broadcast32(b.qh), halves(1 << (2 * K), 1 << (2 * K + 1)));
    return _mm512_mask_add_epi8(q, high, q, _mm512_set1_epi8(16));
  }
  // Chunk K = 2 n + m: elements 128 n + 64 m + l take nibble m of ql[64 n + l] and bits
  // 2 (2 m + l / 32) of qh[32 n + l % 32], moved to bits 4..5 by a per-half rotate.
  template <size_t K>
  static I unpack(const BlockQ6_K& b) {
    constexpr size_t n = K / 2, m = K % 2;
    const I ql = _mm512_loadu_si512(b.ql + 64 * n);
    const I low = low_bits(m == 0 ? ql : _mm512_srli_epi16(ql, 4), 15);
    const I qh = broadcast32(b.qh + 32 * n);
    const I rot =
        m == 0 ? _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4) : _mm512_set_epi64(62, 62, 62, 62, 0, 0, 0, 0);
    // (high & 0x30) | low
    return _mm512_ternarylogic_epi64(_mm512_rolv_epi64(qh, rot), _mm512_set1_epi8(0x30), low, 0xEA);
  }
  // Chunk K = 2 n + m: elements 128 n + 32 j + l (j = 2 m, 2 m + 1) take bits 2 j of qs[32 n + l].
  template <size_t K>
  static I unpack2(const uint8_t* qs) {
    constexpr int n = K / 2, j0 = 2 * (K % 2);
    return low_bits(shift_halves<2 * j0, 2 * j0 + 2>(broadcast32(qs + 32 * n)), 3);
  }
  template <size_t K>
  static I unpack(const BlockQ2_K& b) {
    return unpack2<K>(b.qs);
  }
  template <size_t K>
  static I unpack(const BlockQ3_K& b) {
    constexpr int n = K / 2, j0 = 2 * (K % 2);
    const I low = unpack2<K>(b.qs);
    const __mmask64 high =
        _mm512_test_epi8_mask(broadcast32(b.hmask), halves(1 << (4 * n + j0), 1 << (4 * n + j0 + 1)));
    return _mm512_mask_add_epi8(low, high, low, _mm512_set1_epi8(4));
  }

  static I dot(I w, I x, I s) { return _mm512_madd_epi16(_mm512_maddubs_epi16(w, x), s); }
  static I dot_acc(I acc, I w, I x, I s) {
    if constexpr (kVnni)
      return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(w, x), s);
    else
      return _mm512_add_epi32(acc, dot(w, x, s));
  }

  static F fzero() { return _mm512_setzero_ps(); }
  static XPrep x_prepare(const BlockQ8K& a) {
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
    const __m512 d = _mm512_set1_ps(a.d);
    return {_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(bsums)), d), d};
  }
  // acc + d * dx * isum + mw . (dx * bsums)
  static F finish(F acc, I isum, const Prep& w, const XPrep& x) {
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(w.d, x.d), acc);
    return _mm512_fmadd_ps(w.mins, x.bsums, acc);
  }
  static float reduce_add(F v) { return _mm512_reduce_add_ps(v); }

  // ref::quantize_q8k with the same f32 operations: max |x|, one division each for d and id, one
  // product per element rounded half to even by cvtps (default MXCSR), exact int sums.
  static void quantize_block(const float* x, BlockQ8K& out) {
    __m512 v[16];
    __m512 amax = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (size_t i = 0; i < 16; ++i) {
      v[i] = _mm512_loadu_ps(x + 16 * i);
      amax = _mm512_max_ps(amax, _mm512_abs_ps(v[i]));
    }
    const float max_abs = _mm512_reduce_max_ps(amax);
    out.d = max_abs / 127.0f;
    const __m512 id = _mm512_set1_ps(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
#pragma GCC unroll 16
    for (size_t i = 0; i < 16; ++i) {
      const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(v[i], id));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out.qs + 16 * i), _mm512_cvtsepi32_epi8(q));
      out.bsums[i] = int16_t(_mm512_reduce_add_epi32(q));
    }
  }
};
#endif  // __AVX512BW__

}  // namespace
}  // namespace tokenmill::kernels::quantk
