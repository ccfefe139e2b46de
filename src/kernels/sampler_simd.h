// SIMD bodies of the sampler's vocabulary loops (see ops.h argmax / sampling_weights), written
// against the vector traits of simd_kernels.h plus zero_unless_finite(v, x) (v where x is finite,
// else 0). Include only from ISA-specific files.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/simd_kernels.h"

namespace tokenmill::kernels::simd {

// Vector max over the row (max ignores NaN lanes: a NaN operand yields the other one), then the
// first index holding it: ties go to the lowest index as in the reference.
template <class V>
int64_t argmax(const float* x, size_t n) {
  constexpr size_t N = V::kWidth;
  typename V::F vmax = V::set1(-INFINITY);
  size_t i = 0;
  for (; i + N <= n; i += N) vmax = V::max(V::load(x + i), vmax);
  float best = V::reduce_max(vmax);
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  if (!(best > -INFINITY)) return -1;
  for (i = 0; i < n; ++i)
    if (x[i] == best) return int64_t(i);
  return -1;
}

template <class V>
double sampling_weights(float* weights, const float* logits, size_t n, float max_logit,
                        float temperature) {
  constexpr size_t N = V::kWidth;
  // Lane sums in f32 over chunks of kChunk elements, chunk sums in double: the total stays within
  // ~1e-6 of the reference's double sum over a 150K vocabulary.
  constexpr size_t kChunk = 256;
  const typename V::F vmax = V::set1(max_logit), vt = V::set1(temperature);
  double total = 0.0;
  for (size_t c = 0; c < n; c += kChunk) {
    const size_t c_end = n - c < kChunk ? n : c + kChunk;
    typename V::F vsum = V::zero();
    for (size_t i = c; i < c_end; i += N) {
      const size_t m = c_end - i < N ? c_end - i : N;
      const typename V::F l = V::load_partial(logits + i, m);
      // Lanes past the end load 0 (finite): keep_first drops them from the sum.
      const typename V::F w = V::zero_unless_finite(exp<V>(V::div(V::sub(l, vmax), vt)), l);
      vsum = V::add(vsum, V::keep_first(w, m));
      V::store_partial(weights + i, w, m);
    }
    total += double(V::reduce_add(vsum));
  }
  return total;
}

}  // namespace tokenmill::kernels::simd
