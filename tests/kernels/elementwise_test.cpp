#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/variants.h"
#include "kernel_test_util.h"

namespace tokenmill::kernels {
namespace {

using testing::IsaTest;

const size_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 1000};

// rmsnorm: one f32 sum of squares per row, then two multiplies: 1e-6 relative.
constexpr double kRmsnormRelTol = 1e-6;
// swiglu/softmax: the polynomial exp is within ~2 ulp, plus a divide: 2e-6 relative.
constexpr double kExpRelTol = 2e-6;

class ElementwiseTest : public IsaTest {};

TEST_P(ElementwiseTest, RmsnormMatchesReferenceInPlace) {
  std::mt19937 rng(1);
  for (size_t dim : kSizes) {
    const size_t n_rows = 3;
    auto x = testing::random_floats(rng, n_rows * dim, -4, 4);
    auto weight = testing::random_floats(rng, dim);
    std::vector<float> expected(x.size());
    ref::rmsnorm(expected.data(), x.data(), weight.data(), n_rows, dim, 1e-5f);
    rmsnorm(table(), x.data(), x.data(), weight.data(), n_rows, dim, 1e-5f);  // aliased
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(x[i], expected[i], kRmsnormRelTol * std::fabs(expected[i]) + 1e-30) << dim;
  }
}

TEST_P(ElementwiseTest, RmsnormHandChecked) {
  // mean(x^2) = 4, so x / 2 * weight.
  const float x[4] = {2, -2, 2, -2}, weight[4] = {1, 2, 3, 4};
  float out[4];
  rmsnorm(table(), out, x, weight, 1, 4, 0.0f);
  EXPECT_FLOAT_EQ(out[0], 1);
  EXPECT_FLOAT_EQ(out[1], -2);
  EXPECT_FLOAT_EQ(out[2], 3);
  EXPECT_FLOAT_EQ(out[3], -4);
  // mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5; eps = 0.5 gives rms sqrt(8).
  const float y[4] = {1, 2, 3, 4}, ones[4] = {1, 1, 1, 1};
  rmsnorm(table(), out, y, ones, 1, 4, 0.5f);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], y[i] / std::sqrt(8.0), 1e-6);
}

TEST_P(ElementwiseTest, SwigluMatchesReference) {
  std::mt19937 rng(2);
  for (size_t n : kSizes) {
    auto gate = testing::random_floats(rng, n + 1, -12, 12);
    auto up = testing::random_floats(rng, n + 1, -3, 3);
    gate[0] = 100.0f;  // saturated silu: exp(-100) underflows
    if (n > 2) gate[2] = -100.0f;
    std::vector<float> expected(gate.begin() + 1, gate.end()), got = expected;
    ref::swiglu(expected.data(), up.data() + 1, n);
    swiglu(table(), got.data(), up.data() + 1, n);  // up misaligned by one float
    for (size_t i = 0; i < n; ++i)
      ASSERT_NEAR(got[i], expected[i], kExpRelTol * std::fabs(expected[i]) + 1e-30) << n << " " << i;
  }
}

TEST_P(ElementwiseTest, SwigluHandChecked) {
  float gate[3] = {0.0f, 1.0f, -1.0f};
  const float up[3] = {5.0f, 2.0f, 1.0f};
  swiglu(table(), gate, up, 3);
  EXPECT_FLOAT_EQ(gate[0], 0.0f);
  EXPECT_NEAR(gate[1], 2.0 * 0.7310585786300049, 1e-6);   // silu(1) = 1 / (1 + e^-1)
  EXPECT_NEAR(gate[2], -0.2689414213699951, 1e-6);        // silu(-1)
}

TEST_P(ElementwiseTest, SoftmaxMatchesReference) {
  std::mt19937 rng(3);
  for (size_t n : kSizes) {
    auto x = testing::random_floats(rng, n, -30, 30);
    x[0] = 1000.0f;  // exp would overflow without subtracting the max
    std::vector<float> expected = x;
    ref::softmax(expected.data(), n);
    softmax(table(), x.data(), n);
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(x[i], expected[i], kExpRelTol * expected[i] + 1e-30) << n << " " << i;
      total += x[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

TEST_P(ElementwiseTest, SoftmaxHandChecked) {
  float x[2] = {0.0f, std::log(3.0f)};
  softmax(table(), x, 2);
  EXPECT_NEAR(x[0], 0.25, 1e-6);
  EXPECT_NEAR(x[1], 0.75, 1e-6);
}

TEST_P(ElementwiseTest, ToF32IsExactForEveryF16AndBf16Pattern) {
  std::vector<uint16_t> all(65536 + 1);
  for (size_t i = 0; i < 65536; ++i) all[i + 1] = uint16_t(i);
  std::vector<float> out(65536);
  for (DType dtype : {DType::F16, DType::BF16}) {
    to_f32(table(), out.data(), all.data() + 1, dtype, 65536);  // misaligned source
    for (size_t i = 0; i < 65536; ++i) {
      const float want = dtype == DType::F16 ? fp16_to_f32(uint16_t(i)) : bf16_to_f32(uint16_t(i));
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(out[i])) << i;  // hardware may quiet a signaling nan
      } else {
        uint32_t a, b;
        std::memcpy(&a, &out[i], 4);
        std::memcpy(&b, &want, 4);
        ASSERT_EQ(a, b) << dtype_name(dtype) << " pattern " << i;
      }
    }
  }
}

TEST_P(ElementwiseTest, ToF32TailsAndF32Copy) {
  std::mt19937 rng(4);
  for (size_t n : kSizes) {
    auto src = testing::random_floats(rng, n);
    std::vector<float> out(n + 1, -7.0f);
    to_f32(table(), out.data(), src.data(), DType::F32, n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], src[i]);
    ASSERT_EQ(out[n], -7.0f);  // no store past the tail
  }
  float out[1];
  const int32_t bad[1] = {0};
  EXPECT_THROW(to_f32(table(), out, bad, DType::I32, 1), Error);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, ElementwiseTest, TOKENMILL_ALL_ISAS, testing::isa_param_name);

}  // namespace
}  // namespace tokenmill::kernels
