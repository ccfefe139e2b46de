// Scalar attention: the specification. Two passes over the visible keys (max, then weights), in
// double, with no online rescaling, so it checks the online-softmax variants independently.
#include <cmath>

#include "kernels/variants.h"

namespace tokenmill::kernels::ref {
namespace {

// One query head over positions first..last of one kv head.
// q_h, out_h: [head_dim]; k_cache, v_cache rows: kv_row_stride floats, kv head at kv_offset.
void attend_one_head(float* out_h, const float* q_h, const float* k_cache, const float* v_cache,
                     size_t kv_row_stride, size_t kv_offset, const int32_t* slots, size_t first,
                     size_t last, size_t head_dim, float scale) {
  auto key = [&](size_t p) { return k_cache + size_t(slots[p]) * kv_row_stride + kv_offset; };
  auto value = [&](size_t p) { return v_cache + size_t(slots[p]) * kv_row_stride + kv_offset; };
  auto score = [&](size_t p) {
    double dot = 0.0;
    for (size_t d = 0; d < head_dim; ++d) dot += double(q_h[d]) * key(p)[d];
    return dot * scale;
  };
  double max_score = -INFINITY;
  for (size_t p = first; p <= last; ++p) max_score = std::fmax(max_score, score(p));
  double acc[kMaxHeadDim] = {};  // [head_dim]
  double sum = 0.0;
  for (size_t p = first; p <= last; ++p) {
    const double weight = std::exp(score(p) - max_score);
    sum += weight;
    for (size_t d = 0; d < head_dim; ++d) acc[d] += weight * value(p)[d];
  }
  for (size_t d = 0; d < head_dim; ++d) out_h[d] = float(acc[d] / sum);
}

}  // namespace

void attention_items(float* out, const float* q, const int32_t* q_pos, const float* k_cache,
                     const float* v_cache, size_t kv_row_stride, const int32_t* slots,
                     size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale,
                     size_t window, size_t item_begin, size_t item_end) {
  for (size_t item = item_begin; item < item_end; ++item) {
    const AttentionItem it = attention_item(item, n_heads, n_kv_heads);
    const size_t last = size_t(q_pos[it.query]);
    const size_t first = (window == 0 || last + 1 <= window) ? 0 : last + 1 - window;
    for (size_t h = it.head_begin; h < it.head_begin + it.n_heads; ++h) {
      const size_t offset = (it.query * n_heads + h) * head_dim;
      attend_one_head(out + offset, q + offset, k_cache, v_cache, kv_row_stride,
                      it.kv_head * head_dim, slots, first, last, head_dim, scale);
    }
  }
}

// A unit is its queries' items (the same kv head and heads), one query after the other.
void attention_blocks(float* out, const float* q, const int32_t* q_pos, size_t n_q, const float* k_cache,
                      const float* v_cache, size_t kv_row_stride, const int32_t* slots, size_t n_heads,
                      size_t n_kv_heads, size_t head_dim, float scale, size_t window, size_t unit_begin,
                      size_t unit_end) {
  const size_t per_block = n_kv_heads * attention_subgroups(n_heads, n_kv_heads);
  for (size_t unit = unit_begin; unit < unit_end; ++unit) {
    const AttentionBlockItem b = attention_block_item(unit, n_q, n_heads, n_kv_heads);
    for (size_t query = b.query_begin; query < b.query_begin + b.n_queries; ++query) {
      const size_t item = query * per_block + unit % per_block;
      attention_items(out, q, q_pos, k_cache, v_cache, kv_row_stride, slots, n_heads, n_kv_heads, head_dim,
                      scale, window, item, item + 1);
    }
  }
}

}  // namespace tokenmill::kernels::ref
