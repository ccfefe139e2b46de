#include <cmath>

#include "core/error.h"
#include "kernels/ops.h"

#include <gtest/gtest.h>

namespace tokenmill::kernels {
namespace {

TEST(Rope, PositionZeroIsIdentity) {
  float x[2 * 8];  // [1 token, 2 heads, 8]
  for (int i = 0; i < 16; ++i) x[i] = float(i) - 3.5f;
  const int32_t pos[1] = {0};
  const float inv_freq[4] = {1.0f, 0.1f, 0.01f, 0.001f};
  for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::NeoxHalves}) {
    float y[16];
    std::copy(x, x + 16, y);
    rope(y, pos, inv_freq, 1, 2, 8, 8, style);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(y[i], x[i]);
  }
}

TEST(Rope, QuarterTurnMovesUnitVectors) {
  // inv_freq pi/2 at position 1 rotates (1, 0) to (0, 1) and (0, 1) to (-1, 0).
  const float half_pi = 1.5707963267948966f;
  const int32_t pos[1] = {1};
  const float inv_freq[1] = {half_pi};
  float inter[2] = {1.0f, 0.0f};
  rope(inter, pos, inv_freq, 1, 1, 2, 2, RopeStyle::Interleaved);
  EXPECT_NEAR(inter[0], 0.0f, 1e-7);
  EXPECT_NEAR(inter[1], 1.0f, 1e-7);
  float neox[2] = {0.0f, 1.0f};
  rope(neox, pos, inv_freq, 1, 1, 2, 2, RopeStyle::NeoxHalves);
  EXPECT_NEAR(neox[0], -1.0f, 1e-7);
  EXPECT_NEAR(neox[1], 0.0f, 1e-7);
}

// Hand-written formula: pair i at position p turns by p * inv_freq[i];
// interleaved pairs are (2i, 2i+1), NeoX pairs are (i, i + rot_dim/2).
TEST(Rope, BothStylesMatchTheFormulaWithPartialRotation) {
  const size_t n_tokens = 2, n_heads = 3, head_dim = 6, rot_dim = 4;
  const int32_t pos[2] = {3, 17};
  const float inv_freq[2] = {0.7f, 0.05f};
  float x[n_tokens * n_heads * head_dim];
  for (size_t i = 0; i < std::size(x); ++i) x[i] = std::sin(float(i) * 1.3f);
  for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::NeoxHalves}) {
    float y[std::size(x)];
    std::copy(std::begin(x), std::end(x), y);
    rope(y, pos, inv_freq, n_tokens, n_heads, head_dim, rot_dim, style);
    for (size_t t = 0; t < n_tokens; ++t)
      for (size_t h = 0; h < n_heads; ++h) {
        const float* in = x + (t * n_heads + h) * head_dim;
        const float* out = y + (t * n_heads + h) * head_dim;
        for (size_t i = 0; i < rot_dim / 2; ++i) {
          const double a = double(pos[t]) * inv_freq[i];
          const size_t j = style == RopeStyle::Interleaved ? 2 * i : i;
          const size_t k = style == RopeStyle::Interleaved ? 2 * i + 1 : i + rot_dim / 2;
          EXPECT_NEAR(out[j], in[j] * std::cos(a) - in[k] * std::sin(a), 1e-5);
          EXPECT_NEAR(out[k], in[j] * std::sin(a) + in[k] * std::cos(a), 1e-5);
        }
        for (size_t d = rot_dim; d < head_dim; ++d) EXPECT_EQ(out[d], in[d]);  // pass-through
      }
  }
}

TEST(Rope, StylesDifferOnlyInPairing) {
  // An interleaved head equals a NeoX head after permuting (2i, 2i+1) -> (i, i + d/2).
  const size_t d = 8;
  const int32_t pos[1] = {5};
  const float inv_freq[4] = {1.0f, 0.3f, 0.09f, 0.027f};
  float inter[d], neox[d];
  for (size_t i = 0; i < d / 2; ++i) {
    inter[2 * i] = neox[i] = float(i) + 1;
    inter[2 * i + 1] = neox[i + d / 2] = -float(i) * 0.5f;
  }
  rope(inter, pos, inv_freq, 1, 1, d, d, RopeStyle::Interleaved);
  rope(neox, pos, inv_freq, 1, 1, d, d, RopeStyle::NeoxHalves);
  for (size_t i = 0; i < d / 2; ++i) {
    EXPECT_EQ(inter[2 * i], neox[i]);
    EXPECT_EQ(inter[2 * i + 1], neox[i + d / 2]);
  }
}

TEST(Rope, RejectsBadRotDim) {
  float x[4] = {};
  const int32_t pos[1] = {1};
  const float inv_freq[2] = {1, 1};
  EXPECT_THROW(rope(x, pos, inv_freq, 1, 1, 4, 3, RopeStyle::Interleaved), Error);
  EXPECT_THROW(rope(x, pos, inv_freq, 1, 1, 2, 4, RopeStyle::NeoxHalves), Error);
}

}  // namespace
}  // namespace tokenmill::kernels
