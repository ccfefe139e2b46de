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
  const typename V::F vmax = V::set1(max_logit), vt = V::set1(temperature);
  typename V::F vsum = V::zero();
  for (size_t i = 0; i < n; i += N) {
    const size_t m = n - i < N ? n - i : N;
    const typename V::F l = V::load_partial(logits + i, m);
    // Lanes past n load 0 (finite): keep_first drops them from the sum.
    const typename V::F w = V::zero_unless_finite(exp<V>(V::div(V::sub(l, vmax), vt)), l);
    vsum = V::add(vsum, V::keep_first(w, m));
    V::store_partial(weights + i, w, m);
  }
  return double(V::reduce_add(vsum));
}

}  // namespace tokenmill::kernels::simd
