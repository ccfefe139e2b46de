// AMX prefill matmul of the repacked Q4_0 / Q8_0 layouts (kernels/repack.h), on the tile unit's
// BF16 dot products (tdpbf16ps) with f32 accumulation in the tiles.
//
// Why BF16 and not the tile unit's int8 dots: a Q4_0 / Q8_0 block has its own scale every 32
// columns, so an int8 tile product must leave the tiles after every block to be scaled, and that
// store plus the scaling on the vector ports costs 3-4 times the product itself. Dequantized to
// BF16 (weights w = d * q per group and K slice, activations d_x * q_x of the int8 activations
// every ISA computes), the products accumulate over the whole row in the tiles.
//
// Arithmetic: each weight and activation is rounded once to BF16 (8 significant bits, round to
// nearest even), products and sums are f32. That is the only difference from the avx512vnni
// kernels, whose int8 dots are exact; the kernel tests bound it against the scalar reference.
//
// Loop nest per thread (rows [row_begin, row_end), whole groups of 16):
//   token chunk (up to kChunkTiles tiles of 16 tokens; a last partial tile runs alone with a tile
//   configuration of fewer rows) -> K slice of kSliceBlocks blocks: the chunk's activations of the
//   slice packed as A tiles [tile][block][16 tokens][32 BF16] -> pair of groups: their weights of
//   the slice dequantized as B tiles [block][16 column pairs][16 rows x 2 BF16] -> token tile:
//   C tiles (16 tokens x 16 rows f32) start from the bias or zero (first slice) or y, take one
//   product per block, and are stored to y.
// Fewer than kMinTokens tokens run the avx512vnni kernels.
// GCC 12 reports the intrinsics' internal undefined vectors as uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <array>
#include <cstring>

#include "kernels/quant32_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::amx {
namespace {

using V = q32::Avx512Q32<true>;

constexpr size_t kTileRows = 16;     // tokens per A / C tile
constexpr size_t kSliceBlocks = 16;   // blocks of 32 columns per K slice
constexpr size_t kChunkTiles = 16;   // token tiles per chunk (weights are dequantized once per chunk)
constexpr size_t kMinTokens = 32;    // fewer: the avx512vnni kernels
constexpr size_t kTileBytes = 1024;  // one A or B tile: 16 x 64 bytes

// Tiles: 0-1 C (m tokens x 16 rows f32, one per group of a pair), 2 A (m tokens x 32 BF16),
// 4-5 B (16 column pairs x 16 rows x 2 BF16, one per group).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

constexpr TileConfig make_tile_config(uint8_t m) {
  TileConfig c;
  c.rows[0] = c.rows[1] = c.rows[2] = m;
  c.colsb[0] = c.colsb[1] = c.colsb[2] = 64;
  c.rows[4] = c.rows[5] = 16;
  c.colsb[4] = c.colsb[5] = 64;
  return c;
}

constexpr std::array<TileConfig, kTileRows + 1> make_tile_configs() {
  std::array<TileConfig, kTileRows + 1> a{};
  for (size_t m = 1; m <= kTileRows; ++m) a[m] = make_tile_config(uint8_t(m));
  return a;
}
// Constants in memory: GCC 12 does not see ldtilecfg read a local configuration and drops the
// stores that fill it.
constexpr std::array<TileConfig, kTileRows + 1> kTileConfigs = make_tile_configs();

// f32 -> BF16 pairs: the upper halves of lo and hi rounded to nearest even, hi's in the upper 16
// bits of each 32-bit lane.
inline __m512i bf16_pairs(__m512 lo, __m512 hi) {
  const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7fff);
  const __m512i l = _mm512_castps_si512(lo), h = _mm512_castps_si512(hi);
  const __m512i lr = _mm512_add_epi32(l, _mm512_add_epi32(half, _mm512_and_si512(_mm512_srli_epi32(l, 16), one)));
  const __m512i hr = _mm512_add_epi32(h, _mm512_add_epi32(half, _mm512_and_si512(_mm512_srli_epi32(h, 16), one)));
  return _mm512_mask_blend_epi16(0x55555555, hr, _mm512_srli_epi32(lr, 16));
}

// Activations of tokens [0, m) (x: token 0's block b0, token t's at x[t * nb]) over n_blocks
// blocks as A tiles: a[j][t][32] BF16 of d * q; rows m.. of each tile zero.
inline void pack_activations(uint16_t* a, const BlockQ8A32* x, size_t nb, size_t m, size_t n_blocks) {
  for (size_t j = 0; j < n_blocks; ++j) {
    uint16_t* tile = a + j * kTileBytes / 2;
    for (size_t t = 0; t < m; ++t) {
      const BlockQ8A32& b = x[t * nb + j];
      const __m512 d = _mm512_set1_ps(b.d);
      const __m128i* q = reinterpret_cast<const __m128i*>(b.qs);
      const __m512 lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q))), d);
      const __m512 hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1))), d);
      _mm512_store_si512(tile + t * 32, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
    if (m < kTileRows) std::memset(tile + m * 32, 0, (kTileRows - m) * 64);
  }
}

// One group's blocks [b0, b0 + n_blocks) as B tiles: b[j] row p, lane l = (w[l][2p], w[l][2p+1])
// in BF16, w = d * q. Code vector k of a block holds q[l][4k .. 4k+3] in lane l.
template <DType WT>
inline void dequantize_group(uint16_t* b, const uint8_t* group, size_t b0, size_t n_blocks) {
  constexpr size_t BS = sizeof(typename q32::Format<WT>::Block);
  for (size_t j = 0; j < n_blocks; ++j) {
    const uint8_t* codes = group + repacked_codes_offset(BS, b0 + j);
    const __m512 d = V::load_f16(group + repacked_scales_offset(BS, b0 + j));
    __m512i v[8];
    if constexpr (WT == DType::Q8_0) {
      for (size_t k = 0; k < 8; ++k) v[k] = V::load_i(codes + 64 * k);
    } else {
      const __m512i eight = _mm512_set1_epi8(8);
      for (size_t k = 0; k < 4; ++k) {
        const __m512i raw = V::load_i(codes + 64 * k);
        v[k] = _mm512_sub_epi8(V::nibble_lo(raw), eight);
        v[k + 4] = _mm512_sub_epi8(V::nibble_hi(raw), eight);
      }
    }
    uint16_t* tile = b + j * kTileBytes / 2;
#pragma GCC unroll 8
    for (size_t k = 0; k < 8; ++k) {
      const __m512 w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v[k], 24), 24)), d);
      const __m512 w1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v[k], 16), 24)), d);
      const __m512 w2 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v[k], 8), 24)), d);
      const __m512 w3 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srai_epi32(v[k], 24)), d);
      _mm512_store_si512(tile + (2 * k) * 32, bf16_pairs(w0, w1));
      _mm512_store_si512(tile + (2 * k + 1) * 32, bf16_pairs(w2, w3));
    }
  }
}

// Where a token tile's C tiles live between K slices: y rows (stride y_stride floats) or, for the
// first slice, the bias (row stride 0) or zero.
struct CTarget {
  float* y;
  size_t y_stride;
};

// G (1 or 2) groups' C tiles for one token tile over n_blocks blocks: a = the tile's A tiles,
// b = the groups' B tiles (group g at b + g * kSliceBlocks tiles). first: start from bias (or
// zero when null) instead of y.
template <size_t G>
inline void tile_products(const CTarget& c, const float* bias, bool first, const uint16_t* a, const uint16_t* b,
                          size_t n_blocks) {
  constexpr size_t kGroupStride = kSliceBlocks * kTileBytes / 2;
  const size_t stride_bytes = c.y_stride * sizeof(float);
  if (!first) {
    _tile_loadd(0, c.y, stride_bytes);
    if constexpr (G == 2) _tile_loadd(1, c.y + kRepackRows, stride_bytes);
  } else if (bias != nullptr) {
    _tile_loadd(0, bias, 0);
    if constexpr (G == 2) _tile_loadd(1, bias + kRepackRows, 0);
  } else {
    _tile_zero(0);
    if constexpr (G == 2) _tile_zero(1);
  }
  for (size_t j = 0; j < n_blocks; ++j) {
    _tile_loadd(2, a + j * kTileBytes / 2, 64);
    _tile_loadd(4, b + j * kTileBytes / 2, 64);
    _tile_dpbf16ps(0, 2, 4);
    if constexpr (G == 2) {
      _tile_loadd(5, b + kGroupStride + j * kTileBytes / 2, 64);
      _tile_dpbf16ps(1, 2, 5);
    }
  }
  _tile_stored(0, c.y, stride_bytes);
  if constexpr (G == 2) _tile_stored(1, c.y + kRepackRows, stride_bytes);
}

// Tokens [0, n_tiles * m) of x (m tokens per tile, the tile configuration of m rows loaded) x
// rows [row_begin, row_end) into y. Full chunks use m = 16; a last partial tile runs alone.
template <DType WT>
void amx_tokens(float* y, const BlockQ8A32* x, const uint8_t* w, const float* bias, size_t n_tiles, size_t m,
                size_t nb, size_t d_out, size_t row_begin, size_t row_end) {
  constexpr size_t BS = sizeof(typename q32::Format<WT>::Block);
  const size_t group_bytes = kRepackRows * nb * BS;
  alignas(64) uint16_t a[kChunkTiles * kSliceBlocks * kTileBytes / 2];  // [tile][block] A tiles
  alignas(64) uint16_t b[2 * kSliceBlocks * kTileBytes / 2];            // [group][block] B tiles
  for (size_t tc = 0; tc < n_tiles; tc += kChunkTiles) {
    const size_t tiles = std::min(kChunkTiles, n_tiles - tc);
    for (size_t b0 = 0; b0 < nb; b0 += kSliceBlocks) {
      const size_t n_blocks = std::min(kSliceBlocks, nb - b0);
      for (size_t i = 0; i < tiles; ++i)
        pack_activations(a + i * kSliceBlocks * kTileBytes / 2, x + (tc + i) * m * nb + b0, nb, m, n_blocks);
      for (size_t row0 = row_begin; row0 < row_end; row0 += 2 * kRepackRows) {
        const size_t groups = std::min<size_t>(2, (row_end - row0) / kRepackRows);
        for (size_t g = 0; g < groups; ++g)
          dequantize_group<WT>(b + g * kSliceBlocks * kTileBytes / 2, w + (row0 / kRepackRows + g) * group_bytes,
                               b0, n_blocks);
        // The next pair's slice, 2 x ~5-9 KiB 16-35 KiB apart: too short and scattered a stream
        // for the hardware prefetchers, and read from memory (the weights are far larger than the
        // caches) while this pair's products run.
        if (row0 + 2 * kRepackRows < row_end) {
          const size_t next_groups = std::min<size_t>(2, (row_end - row0) / kRepackRows - 2);
          const size_t first = repacked_codes_offset(BS, b0), last = repacked_codes_offset(BS, b0 + n_blocks);
          for (size_t g = 0; g < next_groups; ++g) {
            const uint8_t* next = w + (row0 / kRepackRows + 2 + g) * group_bytes;
            for (size_t at = first; at < last; at += 64)
              _mm_prefetch(reinterpret_cast<const char*>(next + at), _MM_HINT_T1);
          }
        }
        const float* bias_rows = bias != nullptr ? bias + row0 : nullptr;
        for (size_t i = 0; i < tiles; ++i) {
          const CTarget c{y + (tc + i) * m * d_out + row0, d_out};
          const uint16_t* ai = a + i * kSliceBlocks * kTileBytes / 2;
          if (groups == 2)
            tile_products<2>(c, bias_rows, b0 == 0, ai, b, n_blocks);
          else
            tile_products<1>(c, bias_rows, b0 == 0, ai, b, n_blocks);
        }
      }
    }
  }
}

template <DType WT>
void qmatmul_rows(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  if (n_tokens < kMinTokens) {
    q32::qmatmul_rows_repacked<V, WT>(y, xq, w, bias, n_tokens, d_in, d_out, row_begin, row_end);
    return;
  }
  const BlockQ8A32* x = static_cast<const BlockQ8A32*>(xq);
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const size_t nb = d_in / kQK32, full = n_tokens / kTileRows, left = n_tokens % kTileRows;
  _tile_loadconfig(&kTileConfigs[kTileRows]);
  amx_tokens<WT>(y, x, wb, bias, full, kTileRows, nb, d_out, row_begin, row_end);
  if (left > 0) {
    _tile_loadconfig(&kTileConfigs[left]);
    amx_tokens<WT>(y + full * kTileRows * d_out, x + full * kTileRows * nb, wb, bias, 1, left, nb, d_out,
                   row_begin, row_end);
  }
  _tile_release();
}

}  // namespace

void add_quant32_kernels(KernelTable& t) {
  t.qmatmul_rows[quant_index(DType::Q4_0_R16)] = qmatmul_rows<DType::Q4_0>;
  t.qmatmul_rows[quant_index(DType::Q8_0_R16)] = qmatmul_rows<DType::Q8_0>;
}

}  // namespace tokenmill::kernels::amx
