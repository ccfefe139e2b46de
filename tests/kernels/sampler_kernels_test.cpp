// The sampler's vocabulary loops: every ISA against the scalar reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/variants.h"

namespace tokenmill::kernels {
namespace {

using testing::IsaTest;

class SamplerKernels : public IsaTest {};

std::vector<float> random_logits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  return x;
}

TEST_P(SamplerKernels, ArgmaxMatchesReferenceWithTiesInfAndNan) {
  for (size_t n : {1, 2, 7, 15, 16, 17, 33, 100, 32000, 32003}) {
    std::vector<float> x = random_logits(n, uint32_t(n));
    EXPECT_EQ(argmax(table(), x.data(), n), ref::argmax(x.data(), n)) << n;
    // A tie at two places: the lower index wins.
    const size_t hi = n - 1, lo = n / 3;
    x[hi] = 100.0f;
    x[lo] = 100.0f;
    EXPECT_EQ(argmax(table(), x.data(), n), int64_t(lo)) << n;
    // NaN never wins, -inf never beats a finite value.
    x[0] = NAN;
    if (n > 1) x[n / 2] = -INFINITY;
    EXPECT_EQ(argmax(table(), x.data(), n), ref::argmax(x.data(), n)) << n;
  }
  std::vector<float> none(19, -INFINITY);
  none[4] = NAN;
  EXPECT_EQ(argmax(table(), none.data(), none.size()), -1);
  std::vector<float> zeros = {0.0f, -0.0f, 0.0f};
  EXPECT_EQ(argmax(table(), zeros.data(), 3), 0);
}

TEST_P(SamplerKernels, SamplingWeightsMatchReference) {
  for (size_t n : {1, 5, 16, 17, 31, 1000, 32003}) {
    std::vector<float> x = random_logits(n, 7 + uint32_t(n));
    x[0] = -INFINITY;
    if (n > 2) x[n - 1] = NAN;
    const float max_logit = float(ref::argmax(x.data(), n) >= 0 ? x[size_t(ref::argmax(x.data(), n))] : 0.0f);
    for (float temperature : {0.05f, 0.7f, 1.0f, 2.5f}) {
      std::vector<float> want(n), got(n, -1.0f);
      const double want_sum = ref::sampling_weights(want.data(), x.data(), n, max_logit, temperature);
      const double got_sum = sampling_weights(table(), got.data(), x.data(), n, max_logit, temperature);
      EXPECT_NEAR(got_sum, want_sum, 1e-5 * want_sum + 1e-30) << n;
      for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) {
          EXPECT_EQ(got[i], 0.0f) << i;  // exactly 0: never drawn
        } else {
          EXPECT_NEAR(got[i], want[i], 4e-7f * want[i] + 1e-37f) << n << " " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, SamplerKernels, TOKENMILL_ALL_ISAS, testing::isa_param_name);

}  // namespace
}  // namespace tokenmill::kernels
