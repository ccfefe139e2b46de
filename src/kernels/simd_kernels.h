// ISA-independent bodies of the SIMD kernels, written once against a vector-traits type V and
// instantiated by each *_avx2.cpp / *_avx512.cpp with its own V. Every template here depends on
// V, so the AVX2 and AVX-512 instantiations are distinct symbols: no code compiled for one ISA
// can be picked by the linker for another. Include only from ISA-specific files.
//
// V provides: F (f32 vector), kWidth (lanes), kTileRows and kTileTokens (matmul register tile),
// zero, set1, load, store, load_partial/store_partial (first n lanes, rest zero),
// load_f16/load_bf16 (+ _partial), add, sub, mul, div, fmadd, min, max, round, reduce_add,
// reduce_max, reduce_add_each(const F* v) (lane i = reduce_add(v[i]) for i < kWidth), keep_first(v,
// n) (zero lanes >= n) and mul_pow2(y, n) = y * 2^n for integral n in [-126, 127].
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/kernel_table.h"

namespace tokenmill::kernels::simd {

// x chunk (tokens x d_in f32) that matmul keeps cache-resident while a thread's weight rows stream
// past it: half of a 2 MiB L2 leaves room for the weight rows and y.
inline constexpr size_t kMatmulTokenChunkBytes = size_t(1) << 20;
// Key positions per online-softmax block: one max/rescale per block instead of per key.
inline constexpr size_t kAttentionBlock = 16;

// Cephes-style exp: range reduction by ln2 (split in two constants for accuracy) and a degree-6
// polynomial; about 2 ulp over the clamped range. Inputs below -87.3 give ~1e-38, not 0.
template <class V>
inline typename V::F exp(typename V::F x) {
  x = V::min(V::max(x, V::set1(-87.3365f)), V::set1(88.3762626647949f));
  const typename V::F n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  typename V::F r = V::fmadd(n, V::set1(-0.693359375f), x);
  r = V::fmadd(n, V::set1(2.12194440e-4f), r);
  typename V::F p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  p = V::add(V::fmadd(V::mul(p, r), r, r), V::set1(1.0f));
  return V::mul_pow2(p, n);
}

// Loads kWidth (or n, zero-filled) weights starting at element index of a WT array.
template <class V, DType WT>
inline typename V::F load_weights(const void* w, size_t index) {
  if constexpr (WT == DType::F16) return V::load_f16(static_cast<const uint16_t*>(w) + index);
  else if constexpr (WT == DType::BF16) return V::load_bf16(static_cast<const uint16_t*>(w) + index);
  else return V::load(static_cast<const float*>(w) + index);
}
template <class V, DType WT>
inline typename V::F load_weights_partial(const void* w, size_t index, size_t n) {
  if constexpr (WT == DType::F16)
    return V::load_f16_partial(static_cast<const uint16_t*>(w) + index, n);
  else if constexpr (WT == DType::BF16)
    return V::load_bf16_partial(static_cast<const uint16_t*>(w) + index, n);
  else return V::load_partial(static_cast<const float*>(w) + index, n);
}

// One register tile: R weight rows x T tokens, dot products over all of d_in. Each weight vector
// is converted once and used for T tokens; R*T independent accumulators hide FMA latency.
// x: [n_tokens, d_in], w: [d_out, d_in], y: [n_tokens, d_out]; rows row0.., tokens tok0...
template <class V, DType WT, size_t R, size_t T>
inline void matmul_tile(float* y, const float* x, const void* w, const float* bias, size_t d_in,
                        size_t d_out, size_t row0, size_t tok0) {
  using F = typename V::F;
  constexpr size_t N = V::kWidth;
  F acc[R][T];
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) acc[r][t] = V::zero();
  const float* x0 = x + tok0 * d_in;
  const size_t w0 = row0 * d_in;
  const size_t full = d_in - d_in % N;
  for (size_t i = 0; i < full; i += N) {
    F wv[R];
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) wv[r] = load_weights<V, WT>(w, w0 + r * d_in + i);
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) {
      const F xv = V::load(x0 + t * d_in + i);
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r) acc[r][t] = V::fmadd(wv[r], xv, acc[r][t]);
    }
  }
  if (full < d_in) {
    const size_t n = d_in - full;
    F wv[R];
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) wv[r] = load_weights_partial<V, WT>(w, w0 + r * d_in + full, n);
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) {
      const F xv = V::load_partial(x0 + t * d_in + full, n);
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r) acc[r][t] = V::fmadd(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r) {
    const float b = bias != nullptr ? bias[row0 + r] : 0.0f;
#pragma GCC unroll 16
    for (size_t t = 0; t < T; ++t) y[(tok0 + t) * d_out + row0 + r] = V::reduce_add(acc[r][t]) + b;
  }
}

// The last n_left (< kTileTokens) tokens of a row block: picks the tile with T == n_left.
template <class V, DType WT, size_t R, size_t T>
inline void matmul_token_tail(float* y, const float* x, const void* w, const float* bias,
                              size_t d_in, size_t d_out, size_t row0, size_t tok0, size_t n_left) {
  if (n_left == T) {
    matmul_tile<V, WT, R, T>(y, x, w, bias, d_in, d_out, row0, tok0);
  } else if constexpr (T > 1) {
    matmul_token_tail<V, WT, R, T - 1>(y, x, w, bias, d_in, d_out, row0, tok0, n_left);
  }
}

// Tokens [tok_begin, tok_end) for the R rows starting at row0.
template <class V, DType WT, size_t R>
inline void matmul_row_block(float* y, const float* x, const void* w, const float* bias,
                             size_t d_in, size_t d_out, size_t row0, size_t tok_begin,
                             size_t tok_end) {
  constexpr size_t TT = V::kTileTokens;
  size_t t = tok_begin;
  for (; t + TT <= tok_end; t += TT) matmul_tile<V, WT, R, TT>(y, x, w, bias, d_in, d_out, row0, t);
  if (t < tok_end) {
    matmul_token_tail<V, WT, R, TT - 1>(y, x, w, bias, d_in, d_out, row0, t, tok_end - t);
  }
}

template <class V, DType WT>
void matmul_rows_typed(float* y, const float* x, const void* w, const float* bias,
                       size_t n_tokens, size_t d_in, size_t d_out, size_t row_begin,
                       size_t row_end) {
  constexpr size_t RT = V::kTileRows, TT = V::kTileTokens;
  // Token chunks bound the x working set to L2; within a chunk every weight row is read from
  // memory once and reused from cache by each token tile.
  const size_t chunk_fit = kMatmulTokenChunkBytes / (d_in * sizeof(float));
  const size_t chunk = chunk_fit < TT ? TT : chunk_fit / TT * TT;
  for (size_t tc = 0; tc < n_tokens; tc += chunk) {
    const size_t tc_end = tc + chunk < n_tokens ? tc + chunk : n_tokens;
    size_t r = row_begin;
    for (; r + RT <= row_end; r += RT)
      matmul_row_block<V, WT, RT>(y, x, w, bias, d_in, d_out, r, tc, tc_end);
    for (; r < row_end; ++r) matmul_row_block<V, WT, 1>(y, x, w, bias, d_in, d_out, r, tc, tc_end);
  }
}

template <class V>
void matmul_rows(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
                 size_t n_tokens, size_t d_in, size_t d_out, size_t row_begin, size_t row_end) {
  switch (w_dtype) {
    case DType::F16:
      return matmul_rows_typed<V, DType::F16>(y, x, w, bias, n_tokens, d_in, d_out, row_begin, row_end);
    case DType::BF16:
      return matmul_rows_typed<V, DType::BF16>(y, x, w, bias, n_tokens, d_in, d_out, row_begin, row_end);
    default:
      return matmul_rows_typed<V, DType::F32>(y, x, w, bias, n_tokens, d_in, d_out, row_begin, row_end);
  }
}

// sum_i a[i] * b[i]. a, b: [n].
template <class V>
inline float dot(const float* a, const float* b, size_t n) {
  constexpr size_t N = V::kWidth;
  typename V::F acc0 = V::zero(), acc1 = V::zero();
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    acc0 = V::fmadd(V::load(a + i), V::load(b + i), acc0);
    acc1 = V::fmadd(V::load(a + i + N), V::load(b + i + N), acc1);
  }
  for (; i < n; i += N) {
    const size_t m = n - i < N ? n - i : N;
    acc0 = V::fmadd(V::load_partial(a + i, m), V::load_partial(b + i, m), acc0);
  }
  return V::reduce_add(V::add(acc0, acc1));
}

// acc[d0 + i] = acc[d0 + i] * keep + sum_c weight[c] * v_rows[c][d0 + i] for the R vectors from
// d0 (the last one only its first m lanes when Partial). Two sets of R accumulators (even and
// odd keys) keep 2R independent FMA chains in flight.
template <class V, size_t R, bool Partial>
inline void accumulate_value_vectors(float* acc, float keep, const float* weight,
                                     const float* const* v_rows, size_t count, size_t d0,
                                     size_t m) {
  using F = typename V::F;
  constexpr size_t N = V::kWidth;
  const auto ld = [m](const float* p, size_t r) {
    if constexpr (Partial) {
      if (r + 1 == R) return V::load_partial(p + r * N, m);
    }
    return V::load(p + r * N);
  };
  F a[R], b[R];
  const F k = V::set1(keep);
#pragma GCC unroll 8
  for (size_t r = 0; r < R; ++r) {
    a[r] = V::mul(ld(acc + d0, r), k);
    b[r] = V::zero();
  }
  size_t c = 0;
  for (; c + 2 <= count; c += 2) {
    const F w0 = V::set1(weight[c]), w1 = V::set1(weight[c + 1]);
    const float* v0 = v_rows[c] + d0;
    const float* v1 = v_rows[c + 1] + d0;
#pragma GCC unroll 8
    for (size_t r = 0; r < R; ++r) {
      a[r] = V::fmadd(ld(v0, r), w0, a[r]);
      b[r] = V::fmadd(ld(v1, r), w1, b[r]);
    }
  }
  if (c < count) {
    const F w0 = V::set1(weight[c]);
#pragma GCC unroll 8
    for (size_t r = 0; r < R; ++r) a[r] = V::fmadd(ld(v_rows[c] + d0, r), w0, a[r]);
  }
#pragma GCC unroll 8
  for (size_t r = 0; r < R; ++r) {
    const F sum = V::add(a[r], b[r]);
    if constexpr (Partial) {
      if (r + 1 == R) {
        V::store_partial(acc + d0 + r * N, sum, m);
        continue;
      }
    }
    V::store(acc + d0 + r * N, sum);
  }
}

// acc[d] = acc[d] * keep + sum_c weight[c] * v_rows[c][d] for d < n, c < count. Each acc
// vector is loaded and stored once per block of keys, each weight broadcast once per 4 vectors.
// acc: [n], weight: [count], v_rows: count pointers to [n].
template <class V>
inline void accumulate_values(float* acc, float keep, const float* weight,
                              const float* const* v_rows, size_t count, size_t n) {
  constexpr size_t N = V::kWidth, R = 4;
  size_t d = 0;
  for (; d + R * N <= n; d += R * N)
    accumulate_value_vectors<V, R, false>(acc, keep, weight, v_rows, count, d, N);
  for (; d + N <= n; d += N)
    accumulate_value_vectors<V, 1, false>(acc, keep, weight, v_rows, count, d, N);
  if (d < n) accumulate_value_vectors<V, 1, true>(acc, keep, weight, v_rows, count, d, n - d);
}

// Scores of kAttentionBlock keys for one head: out[c] = dot(q, k_rows[c], n) * scale. The
// dot products of kWidth keys accumulate side by side over head_dim and are reduced together by
// reduce_add_each, so no score needs a horizontal reduction of its own. G vector groups of keys
// run at once (G * kWidth independent accumulators) to hide FMA latency on narrow vectors.
// k_rows: kAttentionBlock pointers to [n]; out: [kAttentionBlock] (kWidth-aligned).
template <class V, size_t G>
inline void attention_scores(float* out, const float* q, const float* const* k_rows, size_t n,
                             float scale) {
  using F = typename V::F;
  constexpr size_t N = V::kWidth, K = G * N;
  static_assert(kAttentionBlock % K == 0, "key groups must tile the block");
  const F s = V::set1(scale);
  for (size_t c0 = 0; c0 < kAttentionBlock; c0 += K) {
    F acc[K];
#pragma GCC unroll 16
    for (size_t j = 0; j < K; ++j) acc[j] = V::zero();
    size_t d = 0;
    for (; d + N <= n; d += N) {
      const F qv = V::load(q + d);
#pragma GCC unroll 16
      for (size_t j = 0; j < K; ++j) acc[j] = V::fmadd(qv, V::load(k_rows[c0 + j] + d), acc[j]);
    }
    if (d < n) {
      const size_t m = n - d;
      const F qv = V::load_partial(q + d, m);
#pragma GCC unroll 16
      for (size_t j = 0; j < K; ++j)
        acc[j] = V::fmadd(qv, V::load_partial(k_rows[c0 + j] + d, m), acc[j]);
    }
#pragma GCC unroll 4
    for (size_t g = 0; g < G; ++g) V::store(out + c0 + g * N, V::mul(V::reduce_add_each(acc + g * N), s));
  }
}

template <class V>
void attention_items(float* out, const float* q, const int32_t* q_pos, const float* k_cache,
                     const float* v_cache, size_t kv_row_stride, const int32_t* slots,
                     size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale,
                     size_t window, size_t item_begin, size_t item_end) {
  using F = typename V::F;
  constexpr size_t B = kAttentionBlock, H = kAttentionHeadsPerItem, N = V::kWidth;
  constexpr size_t G = N >= 8 ? 1 : 8 / N;  // key vectors scored at once
  static_assert(B % N == 0, "a key block is whole vectors");
  for (size_t item = item_begin; item < item_end; ++item) {
    const AttentionItem it = attention_item(item, n_heads, n_kv_heads);
    const size_t kv_offset = it.kv_head * head_dim;
    const float* q_item = q + (it.query * n_heads + it.head_begin) * head_dim;  // [it.n_heads, head_dim]
    const size_t last = size_t(q_pos[it.query]);
    const size_t first = (window == 0 || last + 1 <= window) ? 0 : last + 1 - window;
    // Per head: unnormalized sum of weight * v, running max score, running sum of weights.
    alignas(64) float acc[H][kMaxHeadDim];  // [it.n_heads, head_dim]
    float running_max[H], running_sum[H];
    for (size_t g = 0; g < it.n_heads; ++g) {
      for (size_t d = 0; d < head_dim; ++d) acc[g][d] = 0.0f;
      running_max[g] = -INFINITY;
      running_sum[g] = 0.0f;
    }
    for (size_t p0 = first; p0 <= last; p0 += B) {
      const size_t count = last + 1 - p0 < B ? last + 1 - p0 : B;
      const float* k_rows[B];  // [B] key rows of this block; past count, repeats of the first
      const float* v_rows[B];  // [count] value rows of this block
      for (size_t c = 0; c < count; ++c) {
        const size_t row = size_t(slots[p0 + c]) * kv_row_stride + kv_offset;
        k_rows[c] = k_cache + row;
        v_rows[c] = v_cache + row;
      }
      // Padding keys score the same as key 0 of the block, so they cannot raise its maximum;
      // their weights are dropped below.
      for (size_t c = count; c < B; ++c) k_rows[c] = k_rows[0];
      // The block's K/V rows (count * head_dim floats each) stay in L1 across the item's heads.
      for (size_t g = 0; g < it.n_heads; ++g) {
        const float* q_h = q_item + g * head_dim;  // [head_dim]
        alignas(64) float weight[B];  // [B] scores, then exp(score - running_max)
        attention_scores<V, G>(weight, q_h, k_rows, head_dim, scale);
        F vmax = V::load(weight);
        for (size_t c = N; c < B; c += N) vmax = V::max(vmax, V::load(weight + c));
        const float block_max = V::reduce_max(vmax);
        // Rescale what was summed so far only when the maximum grows (exp(-inf) = 0 at start).
        float keep = 1.0f;
        if (block_max > running_max[g]) {
          keep = std::exp(running_max[g] - block_max);
          running_sum[g] *= keep;
          running_max[g] = block_max;
        }
        const F vm = V::set1(running_max[g]);
        F vsum = V::zero();
        for (size_t c = 0; c < count; c += N) {
          const size_t m = count - c < N ? count - c : N;
          const F e = V::keep_first(exp<V>(V::sub(V::load(weight + c), vm)), m);
          vsum = V::add(vsum, e);
          V::store(weight + c, e);
        }
        running_sum[g] += V::reduce_add(vsum);
        accumulate_values<V>(acc[g], keep, weight, v_rows, count, head_dim);
      }
    }
    for (size_t g = 0; g < it.n_heads; ++g) {
      float* out_h = out + (it.query * n_heads + it.head_begin + g) * head_dim;  // [head_dim]
      const F inv_sum = V::set1(1.0f / running_sum[g]);
      for (size_t d = 0; d < head_dim; d += N) {
        const size_t m = head_dim - d < N ? head_dim - d : N;
        V::store_partial(out_h + d, V::mul(V::load_partial(acc[g] + d, m), inv_sum), m);
      }
    }
  }
}

// Prefill attention over blocks of queries (kernel_table.h AttentionBlockItem), rows in lanes: the
// unit's query-head rows (up to 8 queries x 8 heads) are transposed once into qt: [head_dim][rows],
// so for every key the scores of N rows are one vector, accumulated from one broadcast key element
// per dimension; the softmax (running max, sums, rescaling) is elementwise across rows, with no
// horizontal reductions, and the weighted values accumulate into ot: [head_dim][rows] from one
// broadcast value element per key and dimension. Visibility (causal, window) is a 0/1 factor per
// key and row built from min/max of the position differences.
template <class V>
void attention_blocks(float* out, const float* q, const int32_t* q_pos, size_t n_q, const float* k_cache,
                      const float* v_cache, size_t kv_row_stride, const int32_t* slots, size_t n_heads,
                      size_t n_kv_heads, size_t head_dim, float scale, size_t window, size_t unit_begin,
                      size_t unit_end) {
  using F = typename V::F;
  constexpr size_t B = kAttentionBlock, N = V::kWidth, T = 4;  // T x T register tiles
  constexpr size_t kRows = kAttentionQueryBlock * kAttentionHeadsPerItem;
  static_assert(kRows % (N * T) == 0, "row vectors come in tiles of T");
  const size_t D = head_dim;
  alignas(64) float qt[kMaxHeadDim * kRows];  // [D][kRows]: scaled queries, transposed
  alignas(64) float ot[kMaxHeadDim * kRows];  // [D][kRows]: unnormalized outputs, transposed
  alignas(64) float sw[B * kRows];            // [B][kRows]: scores, then weights, of a key block
  alignas(64) float first_pos[kRows], last_pos[kRows], run_max[kRows], run_sum[kRows];
  const F one = V::set1(1.0f), zero = V::zero(), big = V::set1(1e30f);
  for (size_t unit = unit_begin; unit < unit_end; ++unit) {
    const AttentionBlockItem it = attention_block_item(unit, n_q, n_heads, n_kv_heads);
    const size_t n_rows = it.n_queries * it.n_heads;  // row r: query r / n_heads, head r % n_heads
    const size_t rv_end = (n_rows + N * T - 1) / (N * T) * T;  // row vectors in use, whole tiles
    size_t lo_unit = ~size_t(0), hi_unit = 0;
    for (size_t r = 0; r < rv_end * N; ++r) {
      if (r >= n_rows) {  // padding rows: no visible key, zero queries
        first_pos[r] = 1.0f;
        last_pos[r] = 0.0f;
        for (size_t d = 0; d < D; ++d) qt[d * kRows + r] = 0.0f;
      } else {
        const size_t query = it.query_begin + r / it.n_heads, head = it.head_begin + r % it.n_heads;
        const size_t last = size_t(q_pos[query]);
        const size_t first = (window == 0 || last + 1 <= window) ? 0 : last + 1 - window;
        first_pos[r] = float(first);
        last_pos[r] = float(last);
        lo_unit = first < lo_unit ? first : lo_unit;
        hi_unit = last > hi_unit ? last : hi_unit;
        const float* q_r = q + (query * n_heads + head) * D;  // [D]
        for (size_t d = 0; d < D; ++d) qt[d * kRows + r] = q_r[d] * scale;
      }
      run_max[r] = -INFINITY;
      run_sum[r] = 0.0f;
      for (size_t d = 0; d < D; ++d) ot[d * kRows + r] = 0.0f;
    }
    const size_t kv_offset = it.kv_head * D;
    for (size_t p0 = lo_unit; p0 <= hi_unit; p0 += B) {
      const size_t count = hi_unit + 1 - p0 < B ? hi_unit + 1 - p0 : B;
      const float* k_rows[B];
      const float* v_rows[B];
      for (size_t c = 0; c < count; ++c) {
        const size_t row = size_t(slots[p0 + c]) * kv_row_stride + kv_offset;
        k_rows[c] = k_cache + row;
        v_rows[c] = v_cache + row;
      }
      for (size_t c = count; c < B; ++c) k_rows[c] = k_rows[0];  // scored, never weighted
      // Scores: sw[c][r] = sum_d k[c][d] * qt[d][r], T keys x T row vectors per tile.
      for (size_t c0 = 0; c0 < B; c0 += T)
        for (size_t v0 = 0; v0 < rv_end; v0 += T) {
          F s[T][T];
#pragma GCC unroll 4
          for (size_t i = 0; i < T; ++i)
#pragma GCC unroll 4
            for (size_t j = 0; j < T; ++j) s[i][j] = zero;
          for (size_t d = 0; d < D; ++d) {
            F qv[T];
#pragma GCC unroll 4
            for (size_t j = 0; j < T; ++j) qv[j] = V::load(qt + d * kRows + (v0 + j) * N);
#pragma GCC unroll 4
            for (size_t i = 0; i < T; ++i) {
              const F kv = V::set1(k_rows[c0 + i][d]);
#pragma GCC unroll 4
              for (size_t j = 0; j < T; ++j) s[i][j] = V::fmadd(kv, qv[j], s[i][j]);
            }
          }
#pragma GCC unroll 4
          for (size_t i = 0; i < T; ++i)
#pragma GCC unroll 4
            for (size_t j = 0; j < T; ++j) V::store(sw + (c0 + i) * kRows + (v0 + j) * N, s[i][j]);
        }
      // Online softmax, elementwise over rows. visible(c, r) = min(1, max(0, last - p + 1)) *
      // min(1, max(0, p - first + 1)) for key position p = p0 + c: 1 or 0 (positions are integers).
      for (size_t v = 0; v < rv_end; ++v) {
        const F first_v = V::load(first_pos + v * N), last_v = V::load(last_pos + v * N);
        auto visible = [&](size_t c) {
          const F p = V::set1(float(p0 + c));
          const F upper = V::min(one, V::max(zero, V::add(V::sub(last_v, p), one)));
          const F lower = V::min(one, V::max(zero, V::add(V::sub(p, first_v), one)));
          return V::mul(upper, lower);
        };
        F block_max = V::set1(-INFINITY);
        for (size_t c = 0; c < count; ++c) {
          float* s_c = sw + c * kRows + v * N;
          // Hidden keys score 1e30 below their score: never the maximum of a row with a visible key.
          const F s = V::sub(V::load(s_c), V::mul(V::sub(one, visible(c)), big));
          V::store(s_c, s);
          block_max = V::max(block_max, s);
        }
        const F old_max = V::load(run_max + v * N);
        const F new_max = V::max(old_max, block_max);
        const F keep = exp<V>(V::sub(old_max, new_max));
        V::store(run_max + v * N, new_max);
        F sum = V::mul(V::load(run_sum + v * N), keep);
        for (size_t c = 0; c < count; ++c) {
          float* s_c = sw + c * kRows + v * N;
          const F e = V::mul(exp<V>(V::sub(V::load(s_c), new_max)), visible(c));
          V::store(s_c, e);
          sum = V::add(sum, e);
        }
        V::store(run_sum + v * N, sum);
        for (size_t d = 0; d < D; ++d) {
          float* o = ot + d * kRows + v * N;
          V::store(o, V::mul(V::load(o), keep));
        }
      }
      // Weighted values: ot[d][r] += sum_c v[c][d] * sw[c][r], T dimensions x T row vectors.
      for (size_t v0 = 0; v0 < rv_end; v0 += T) {
        size_t d0 = 0;
        for (; d0 + T <= D; d0 += T) {
          F a[T][T];
#pragma GCC unroll 4
          for (size_t i = 0; i < T; ++i)
#pragma GCC unroll 4
            for (size_t j = 0; j < T; ++j) a[i][j] = V::load(ot + (d0 + i) * kRows + (v0 + j) * N);
          for (size_t c = 0; c < count; ++c) {
            F wv[T];
#pragma GCC unroll 4
            for (size_t j = 0; j < T; ++j) wv[j] = V::load(sw + c * kRows + (v0 + j) * N);
#pragma GCC unroll 4
            for (size_t i = 0; i < T; ++i) {
              const F vb = V::set1(v_rows[c][d0 + i]);
#pragma GCC unroll 4
              for (size_t j = 0; j < T; ++j) a[i][j] = V::fmadd(vb, wv[j], a[i][j]);
            }
          }
#pragma GCC unroll 4
          for (size_t i = 0; i < T; ++i)
#pragma GCC unroll 4
            for (size_t j = 0; j < T; ++j) V::store(ot + (d0 + i) * kRows + (v0 + j) * N, a[i][j]);
        }
        for (; d0 < D; ++d0) {
          F a[T];
#pragma GCC unroll 4
          for (size_t j = 0; j < T; ++j) a[j] = V::load(ot + d0 * kRows + (v0 + j) * N);
          for (size_t c = 0; c < count; ++c) {
            const F vb = V::set1(v_rows[c][d0]);
#pragma GCC unroll 4
            for (size_t j = 0; j < T; ++j) a[j] = V::fmadd(vb, V::load(sw + c * kRows + (v0 + j) * N), a[j]);
          }
#pragma GCC unroll 4
          for (size_t j = 0; j < T; ++j) V::store(ot + d0 * kRows + (v0 + j) * N, a[j]);
        }
      }
    }
    for (size_t r = 0; r < n_rows; ++r) {
      const size_t query = it.query_begin + r / it.n_heads, head = it.head_begin + r % it.n_heads;
      float* out_r = out + (query * n_heads + head) * D;  // [D]
      const float inv_sum = 1.0f / run_sum[r];
      for (size_t d = 0; d < D; ++d) out_r[d] = ot[d * kRows + r] * inv_sum;
    }
  }
}

template <class V>
void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim,
             float eps) {
  constexpr size_t N = V::kWidth;
  for (size_t r = 0; r < n_rows; ++r) {
    const float* x_r = x + r * dim;  // [dim]
    float* out_r = out + r * dim;    // [dim], may alias x_r
    const float inv_rms = 1.0f / std::sqrt(dot<V>(x_r, x_r, dim) / float(dim) + eps);
    const typename V::F s = V::set1(inv_rms);
    for (size_t i = 0; i < dim; i += N) {
      const size_t m = dim - i < N ? dim - i : N;
      const typename V::F v = V::mul(V::mul(V::load_partial(x_r + i, m), s), V::load_partial(weight + i, m));
      V::store_partial(out_r + i, v, m);
    }
  }
}

template <class V, DType WT>
void to_f32_typed(float* out, const void* src, size_t n) {
  constexpr size_t N = V::kWidth;
  size_t i = 0;
  for (; i + N <= n; i += N) V::store(out + i, load_weights<V, WT>(src, i));
  if (i < n) V::store_partial(out + i, load_weights_partial<V, WT>(src, i, n - i), n - i);
}

template <class V>
void to_f32(float* out, const void* src, DType dtype, size_t n) {
  switch (dtype) {
    case DType::F16: return to_f32_typed<V, DType::F16>(out, src, n);
    case DType::BF16: return to_f32_typed<V, DType::BF16>(out, src, n);
    default: return to_f32_typed<V, DType::F32>(out, src, n);
  }
}

template <class V>
void swiglu(float* gate, const float* up, size_t n) {
  constexpr size_t N = V::kWidth;
  const typename V::F one = V::set1(1.0f);
  for (size_t i = 0; i < n; i += N) {
    const size_t m = n - i < N ? n - i : N;
    const typename V::F g = V::load_partial(gate + i, m);
    const typename V::F silu = V::div(g, V::add(one, exp<V>(V::sub(V::zero(), g))));
    V::store_partial(gate + i, V::mul(silu, V::load_partial(up + i, m)), m);
  }
}

template <class V>
void softmax(float* x, size_t n) {
  constexpr size_t N = V::kWidth;
  if (n == 0) return;
  typename V::F vmax = V::set1(-INFINITY);
  size_t i = 0;
  for (; i + N <= n; i += N) vmax = V::max(vmax, V::load(x + i));
  float max_x = V::reduce_max(vmax);
  for (; i < n; ++i) max_x = x[i] > max_x ? x[i] : max_x;
  const typename V::F vm = V::set1(max_x);
  typename V::F vsum = V::zero();
  for (i = 0; i < n; i += N) {
    const size_t m = n - i < N ? n - i : N;
    const typename V::F e = exp<V>(V::sub(V::load_partial(x + i, m), vm));
    // Lanes past n hold exp(0 - max) garbage; store_partial drops them, the sum must too.
    vsum = V::add(vsum, V::keep_first(e, m));
    V::store_partial(x + i, e, m);
  }
  const typename V::F inv = V::set1(1.0f / V::reduce_add(vsum));
  for (i = 0; i < n; i += N) {
    const size_t m = n - i < N ? n - i : N;
    V::store_partial(x + i, V::mul(V::load_partial(x + i, m), inv), m);
  }
}

}  // namespace tokenmill::kernels::simd
