// Scalar sampler loops over the vocabulary: the specification.
#include <cmath>

#include "kernels/variants.h"

namespace tokenmill::kernels::ref {

int64_t argmax(const float* x, size_t n) {
  int64_t best = -1;
  float best_x = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    if (x[i] > best_x) {  // strict: ties keep the lowest index; NaN never compares greater
      best_x = x[i];
      best = int64_t(i);
    }
  }
  return best;
}

double sampling_weights(float* weights, const float* logits, size_t n, float max_logit,
                        float temperature) {
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    weights[i] = std::isfinite(logits[i]) ? std::exp((logits[i] - max_logit) / temperature) : 0.0f;
    total += weights[i];
  }
  return total;
}

}  // namespace tokenmill::kernels::ref
