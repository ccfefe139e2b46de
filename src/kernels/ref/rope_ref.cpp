// Rotary position embedding, both pair layouts. There is only this scalar version: the work is
// one sin/cos per (token, pair), shared by all heads, against a handful of flops per element.
#include <cmath>

#include "core/error.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::ref {

void rope(float* x, const int32_t* positions, const float* inv_freq, size_t n_tokens,
          size_t n_heads, size_t head_dim, size_t rot_dim, RopeStyle style) {
  const size_t half = rot_dim / 2;
  for (size_t t = 0; t < n_tokens; ++t) {
    for (size_t i = 0; i < half; ++i) {
      // The angle is formed in f32 as Hugging Face does (position * inv_freq), so long contexts
      // round the same way the reference models do.
      const float angle = float(positions[t]) * inv_freq[i];
      const float c = std::cos(angle), s = std::sin(angle);
      for (size_t h = 0; h < n_heads; ++h) {
        float* head = x + (t * n_heads + h) * head_dim;  // [head_dim]
        // Interleaved pairs (2i, 2i+1); NeoX pairs (i, i + rot_dim/2).
        const size_t a = style == RopeStyle::Interleaved ? 2 * i : i;
        const size_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
        const float x0 = head[a], x1 = head[b];
        head[a] = x0 * c - x1 * s;
        head[b] = x0 * s + x1 * c;
      }
    }
  }
}

}  // namespace tokenmill::kernels::ref
