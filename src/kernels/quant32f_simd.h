// ISA-independent body of the float-activation matmul of the 32-element block family (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0): y = x . dequant(w)^T (+ bias) with x and y in f32 (weight-only quantization,
// "W4A16"). Written against a vector-traits type V and instantiated by quant32f_avx2.cpp,
// quant32f_avx512.cpp and quant32f_neon.cpp; every template depends on V, so no code compiled for
// one ISA can be picked by the linker for another. Include only from ISA-specific files.
//
// The weights are read in the file's layout and never dequantized to memory: per register tile of
// R rows x T tokens, each block of each row is decoded once into f32 vectors of its 32 weights
// (V::Block<WT>::part<K>: weights K * kWidth .. (K + 1) * kWidth - 1, exactly d * (q - offset) + m
// as the scalar dequantization computes them) and every weight vector is multiplied into T token
// accumulators. Decode (T = 1) is thus one FMA per weight after the unpacking, and reads every
// weight row once; prefill reuses each decoded vector for T tokens.
//
// The R rows of a tile come from R evenly spaced positions of the thread's row range (rows
// a + i, b + i, ...): R sequential streams advance together, which is how one core reaches the
// machine's read bandwidth (docs/kernels.md, "Decode reads several streams per core"), and each
// is prefetched kPrefetchBytes ahead.
//
// The f16 scales (and mins) of kScaleRun consecutive blocks of a row are converted to f32 at once
// (V::load_scales) and read back per block as broadcasts from memory, which keep the conversion
// and the broadcast off the shuffle port that the code unpacking needs.
//
// V provides: F (f32 vector of kWidth lanes, kWidth dividing 32), kTileRows, kTileTokens, zero(),
// load(const float*) (unaligned), fmadd(a, b, c) = a * b + c, reduce_add(F), prefetch(const void*),
// template <DType WT> load_scales(const uint8_t* first_block, size_t n, float* d, float* m): the
// f32 d (and m, formats with a min; else m is untouched) of n <= kScaleRun consecutive blocks; and
// template <DType WT> struct Block { void load(const uint8_t* block, const float* d, const float* m);
// template <size_t K> F part() const; } (default-constructible; load reads one block of WT).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/dtype.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"

namespace tokenmill::kernels::q32f {

// Bytes of one block of WT (quant_blocks.h).
template <DType WT>
constexpr size_t block_bytes() {
  if constexpr (WT == DType::Q4_0)
    return sizeof(BlockQ4_0);
  else if constexpr (WT == DType::Q4_1)
    return sizeof(BlockQ4_1);
  else if constexpr (WT == DType::Q5_0)
    return sizeof(BlockQ5_0);
  else if constexpr (WT == DType::Q5_1)
    return sizeof(BlockQ5_1);
  else
    return sizeof(BlockQ8_0);
}

// Activations of a token chunk kept cache-resident while the thread's rows stream past (half of a
// 2 MiB L2), as the float matmul does.
inline constexpr size_t kTokenChunkBytes = size_t(1) << 20;
// Software prefetch distance of each row stream (the hardware prefetchers stop at 4 KiB pages).
inline constexpr size_t kPrefetchBytes = 1024;
inline constexpr size_t kCacheLine = 64;
// Blocks whose scales are converted at once.
inline constexpr size_t kScaleRun = 16;

template <DType WT>
constexpr bool has_min() {
  return WT == DType::Q4_1 || WT == DType::Q5_1;
}

// Calls f(std::integral_constant<size_t, K>{}) for K = 0 .. N-1.
template <size_t N, class Fn>
inline void for_each_index(const Fn& f) {
  [&]<size_t... K>(std::index_sequence<K...>) {
    (f(std::integral_constant<size_t, K>{}), ...);
  }
  (std::make_index_sequence<N>{});
}

// One register tile: rows row[0..R) (first byte of row r at w_row[r]) x tokens tok0 .. tok0 + T,
// dot products over all nb blocks. x: [n_tokens, d_in] f32, y: [n_tokens, d_out].
template <class V, DType WT, size_t R, size_t T>
inline void tile(float* y, const float* x, const uint8_t* const (&w_row)[R], const size_t (&row)[R],
                 const float* bias, size_t nb, size_t d_in, size_t d_out, size_t tok0) {
  using F = typename V::F;
  using Block = typename V::template Block<WT>;
  constexpr size_t W = V::kWidth, kParts = kQK32 / W;
  constexpr size_t BS = block_bytes<WT>();
  F acc[R][T];
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) acc[r][t] = V::zero();
  const float* x0 = x + tok0 * d_in;
  alignas(64) float d[R][kScaleRun], m[R][kScaleRun];  // of blocks b0 .. b0 + n
  for (size_t b0 = 0; b0 < nb; b0 += kScaleRun) {
    const size_t n = nb - b0 < kScaleRun ? nb - b0 : kScaleRun;
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) V::template load_scales<WT>(w_row[r] + b0 * BS, n, d[r], m[r]);
    for (size_t j = 0; j < n; ++j) {
      const size_t b = b0 + j;
      // One prefetch per row and cache line: when block b is the first to start in a new line.
      if ((b * BS) / kCacheLine != ((b + 1) * BS) / kCacheLine) {
#pragma GCC unroll 16
        for (size_t r = 0; r < R; ++r) V::prefetch(w_row[r] + b * BS + kPrefetchBytes);
      }
      Block blocks[R];
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r) blocks[r].load(w_row[r] + b * BS, &d[r][j], &m[r][j]);
      const float* xb = x0 + b * kQK32;
      for_each_index<kParts>([&](auto k) {
        F wv[R];
#pragma GCC unroll 16
        for (size_t r = 0; r < R; ++r) wv[r] = blocks[r].template part<decltype(k)::value>();
#pragma GCC unroll 16
        for (size_t t = 0; t < T; ++t) {
          const F xv = V::load(xb + t * d_in + k * W);
#pragma GCC unroll 16
          for (size_t r = 0; r < R; ++r) acc[r][t] = V::fmadd(wv[r], xv, acc[r][t]);
        }
      });
    }
  }
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r) {
    const float b = bias != nullptr ? bias[row[r]] : 0.0f;
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) y[(tok0 + t) * d_out + row[r]] = V::reduce_add(acc[r][t]) + b;
  }
}

// Tokens [tok_begin, tok_end) of the R rows: tiles of kTileTokens, then one tile of the rest.
template <class V, DType WT, size_t R, size_t T>
inline void token_tail(float* y, const float* x, const uint8_t* const (&w_row)[R], const size_t (&row)[R],
                       const float* bias, size_t nb, size_t d_in, size_t d_out, size_t tok0, size_t n_left) {
  if (n_left == T) {
    tile<V, WT, R, T>(y, x, w_row, row, bias, nb, d_in, d_out, tok0);
  } else if constexpr (T > 1) {
    token_tail<V, WT, R, T - 1>(y, x, w_row, row, bias, nb, d_in, d_out, tok0, n_left);
  }
}

template <class V, DType WT, size_t R>
inline void row_tile(float* y, const float* x, const uint8_t* const (&w_row)[R], const size_t (&row)[R],
                     const float* bias, size_t nb, size_t d_in, size_t d_out, size_t tok_begin,
                     size_t tok_end) {
  constexpr size_t TT = V::kTileTokens;
  size_t t = tok_begin;
  for (; t + TT <= tok_end; t += TT) tile<V, WT, R, TT>(y, x, w_row, row, bias, nb, d_in, d_out, t);
  if (t < tok_end) token_tail<V, WT, R, TT - 1>(y, x, w_row, row, bias, nb, d_in, d_out, t, tok_end - t);
}

// FMatmulRowsFn (kernel_table.h) for weights of type WT.
template <class V, DType WT>
void fmatmul_rows(float* y, const float* x, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  constexpr size_t R = V::kTileRows, TT = V::kTileTokens;
  const size_t nb = d_in / kQK32, row_bytes = nb * block_bytes<WT>();
  const uint8_t* w_bytes = static_cast<const uint8_t*>(w);
  const size_t chunk_fit = kTokenChunkBytes / (d_in * sizeof(float));
  const size_t chunk = chunk_fit < TT ? TT : chunk_fit / TT * TT;
  // Rows [row_begin, row_begin + R * per_stream) in tiles of R streams, per_stream rows apart.
  const size_t per_stream = (row_end - row_begin) / R;
  for (size_t tc = 0; tc < n_tokens; tc += chunk) {
    const size_t tc_end = tc + chunk < n_tokens ? tc + chunk : n_tokens;
    for (size_t i = 0; i < per_stream; ++i) {
      size_t row[R];
      const uint8_t* w_row[R];
      for (size_t r = 0; r < R; ++r) {
        row[r] = row_begin + r * per_stream + i;
        w_row[r] = w_bytes + row[r] * row_bytes;
      }
      row_tile<V, WT, R>(y, x, w_row, row, bias, nb, d_in, d_out, tc, tc_end);
    }
    for (size_t o = row_begin + R * per_stream; o < row_end; ++o) {
      const size_t row[1] = {o};
      const uint8_t* w_row[1] = {w_bytes + o * row_bytes};
      row_tile<V, WT, 1>(y, x, w_row, row, bias, nb, d_in, d_out, tc, tc_end);
    }
  }
}

template <class V>
void add_kernels(KernelTable& t) {
  t.fmatmul_rows[quant_index(DType::Q4_0)] = fmatmul_rows<V, DType::Q4_0>;
  t.fmatmul_rows[quant_index(DType::Q4_1)] = fmatmul_rows<V, DType::Q4_1>;
  t.fmatmul_rows[quant_index(DType::Q5_0)] = fmatmul_rows<V, DType::Q5_0>;
  t.fmatmul_rows[quant_index(DType::Q5_1)] = fmatmul_rows<V, DType::Q5_1>;
  t.fmatmul_rows[quant_index(DType::Q8_0)] = fmatmul_rows<V, DType::Q8_0>;
}

}  // namespace tokenmill::kernels::q32f
