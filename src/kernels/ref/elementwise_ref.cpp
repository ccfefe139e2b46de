// Scalar rmsnorm, to_f32, swiglu and softmax: the specification (double accumulation).
#include <cmath>

#include "kernels/ref/weight_element.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::ref {

void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim,
             float eps) {
  for (size_t r = 0; r < n_rows; ++r) {
    const float* x_r = x + r * dim;  // [dim]
    float* out_r = out + r * dim;    // [dim], may alias x_r
    double sum_sq = 0.0;
    for (size_t i = 0; i < dim; ++i) sum_sq += double(x_r[i]) * x_r[i];
    const double inv_rms = 1.0 / std::sqrt(sum_sq / double(dim) + double(eps));
    for (size_t i = 0; i < dim; ++i) out_r[i] = float(double(x_r[i]) * inv_rms * weight[i]);
  }
}

void to_f32(float* out, const void* src, DType dtype, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = weight_element(src, dtype, i);
}

void swiglu(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double g = gate[i];
    gate[i] = float(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void softmax(float* x, size_t n) {
  if (n == 0) return;
  float max_x = x[0];
  for (size_t i = 1; i < n; ++i) max_x = std::fmax(max_x, x[i]);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = float(std::exp(double(x[i]) - max_x));
    sum += x[i];
  }
  const double inv_sum = 1.0 / sum;
  for (size_t i = 0; i < n; ++i) x[i] = float(x[i] * inv_sum);
}

}  // namespace tokenmill::kernels::ref
