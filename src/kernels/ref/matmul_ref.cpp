// Scalar matmul: the specification. Accumulates in double so that it is the more accurate side
// of every comparison with a SIMD variant.
#include "kernels/ref/weight_element.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::ref {

void matmul_rows(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
                 size_t n_tokens, size_t d_in, size_t d_out, size_t row_begin, size_t row_end) {
  for (size_t t = 0; t < n_tokens; ++t) {
    const float* x_t = x + t * d_in;  // [d_in]
    for (size_t o = row_begin; o < row_end; ++o) {
      double sum = bias != nullptr ? bias[o] : 0.0;
      for (size_t i = 0; i < d_in; ++i)
        sum += double(x_t[i]) * double(weight_element(w, w_dtype, o * d_in + i));
      y[t * d_out + o] = float(sum);
    }
  }
}

}  // namespace tokenmill::kernels::ref
