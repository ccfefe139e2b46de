#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/variants.h"
#include "kernel_test_util.h"

namespace tokenmill::kernels {
namespace {

using testing::IsaTest;

// Float accumulation in any order differs from the exact sum by at most a few ulp per add of the
// magnitudes involved; SIMD lanes keep chains short (d_in / 16 adds). We allow
// |y - exact| <= 1e-5 * (sum_i |x_i * w_i| + |bias|): tight for d_in <= 1000 yet order-independent.
constexpr double kMatmulRelTol = 1e-5;
constexpr float kGuard = 12345.0f;

struct MatmulCase {
  DType dtype;
  size_t n_tokens, d_in, d_out;
  bool bias;
  size_t misalign;  // elements of offset applied to x, w, bias and y
};

void run_case(const KernelTable& table, const MatmulCase& c, ThreadPool& pool, std::mt19937& rng) {
  const size_t m = c.misalign;
  std::vector<float> x_buf = testing::random_floats(rng, m + c.n_tokens * c.d_in);
  std::vector<float> w_vals = testing::random_floats(rng, c.d_out * c.d_in);
  std::vector<float> b_buf = testing::random_floats(rng, m + c.d_out);
  const testing::EncodedWeights w = testing::encode(w_vals, c.dtype, m);
  // y has guard elements on both sides to catch tail stores outside [n_tokens, d_out].
  std::vector<float> y_buf(m + c.n_tokens * c.d_out + 16, kGuard);
  const float* x = x_buf.data() + m;
  const float* bias = c.bias ? b_buf.data() + m : nullptr;
  float* y = y_buf.data() + m;
  matmul(table, y, x, w.data(), c.dtype, bias, c.n_tokens, c.d_in, c.d_out, pool);
  for (size_t i = 0; i < m; ++i) ASSERT_EQ(y_buf[i], kGuard);
  for (size_t i = m + c.n_tokens * c.d_out; i < y_buf.size(); ++i) ASSERT_EQ(y_buf[i], kGuard);
  for (size_t t = 0; t < c.n_tokens; ++t) {
    for (size_t o = 0; o < c.d_out; ++o) {
      double exact = bias ? bias[o] : 0.0, magnitude = bias ? std::fabs(bias[o]) : 0.0;
      for (size_t i = 0; i < c.d_in; ++i) {
        const double term = double(x[t * c.d_in + i]) * testing::decoded(w_vals[o * c.d_in + i], c.dtype);
        exact += term;
        magnitude += std::fabs(term);
      }
      ASSERT_NEAR(y[t * c.d_out + o], exact, kMatmulRelTol * magnitude + 1e-30)
          << "dtype " << dtype_name(c.dtype) << " n_tokens " << c.n_tokens << " d_in " << c.d_in
          << " d_out " << c.d_out << " bias " << c.bias << " misalign " << m << " at t " << t
          << " o " << o << " threads " << pool.size();
    }
  }
}

class MatmulTest : public IsaTest {};

TEST_P(MatmulTest, OddSizesAllDtypesAgainstExactSum) {
  std::mt19937 rng(7);
  ThreadPool pool1(1), pool2(2);
  for (DType dtype : {DType::F32, DType::F16, DType::BF16})
    for (size_t d_in : {1, 3, 17, 31, 33, 64, 100, 257, 1000})
      for (size_t d_out : {1, 3, 5, 13})
        for (size_t n_tokens = 1; n_tokens <= 9; ++n_tokens) {
          const bool bias = (d_in + n_tokens) % 2 == 0;
          const size_t misalign = (d_out + n_tokens) % 3;  // 0, 1 or 2 elements
          ThreadPool& pool = n_tokens % 2 ? pool1 : pool2;
          run_case(table(), {dtype, n_tokens, d_in, d_out, bias, misalign}, pool, rng);
        }
}

// Large enough that the work is split across threads, with d_out not a multiple of the 4-row
// blocks handed to threads.
TEST_P(MatmulTest, ThreadedSplitsMatchSingleThread) {
  std::mt19937 rng(11);
  ThreadPool pool1(1), pool2(2);
  for (DType dtype : {DType::F32, DType::F16, DType::BF16})
    for (size_t n_tokens : {1, 4, 5, 9})
      for (size_t d_out : {67, 130}) {
        run_case(table(), {dtype, n_tokens, 1000, d_out, true, 1}, pool2, rng);
        run_case(table(), {dtype, n_tokens, 1000, d_out, false, 0}, pool1, rng);
      }
}

// Enough tokens to span several x chunks (the kernels keep at most ~1 MiB of x in cache).
TEST_P(MatmulTest, ManyTokensSpanSeveralChunks) {
  std::mt19937 rng(13);
  ThreadPool pool2(2);
  run_case(table(), {DType::F16, 70, 4100, 7, true, 1}, pool2, rng);
}

TEST_P(MatmulTest, EmptyInputDimensionGivesBias) {
  ThreadPool pool(1);
  const float bias[3] = {1.0f, -2.0f, 3.0f};
  float y[6] = {};
  matmul(table(), y, nullptr, nullptr, DType::F16, bias, 2, 0, 3, pool);
  EXPECT_EQ(y[3], 1.0f);
  EXPECT_EQ(y[4], -2.0f);
  EXPECT_EQ(y[5], 3.0f);
}

TEST_P(MatmulTest, RejectsUnsupportedWeightDtype) {
  ThreadPool pool(1);
  float x[2] = {1, 2}, y[1];
  const int8_t w[2] = {1, 2};
  EXPECT_THROW(matmul(table(), y, x, w, DType::I8, nullptr, 1, 2, 1, pool), Error);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, MatmulTest, TOKENMILL_ALL_ISAS, testing::isa_param_name);

// The reference itself against a product worked out by hand.
TEST(MatmulRef, HandComputed) {
  // x: [2 tokens, 3], w: [2 rows, 3], bias: [2]
  const float x[6] = {1, 2, 3, -1, 0.5f, 2};
  const float w[6] = {1, 0, -1, 2, 1, 0.5f};
  const float bias[2] = {0.5f, -1};
  float y[4];
  ref::matmul_rows(y, x, w, DType::F32, bias, 2, 3, 2, 0, 2);
  EXPECT_FLOAT_EQ(y[0], 1 - 3 + 0.5f);         // token 0, row 0
  EXPECT_FLOAT_EQ(y[1], 2 + 2 + 1.5f - 1);     // token 0, row 1
  EXPECT_FLOAT_EQ(y[2], -1 - 2 + 0.5f);        // token 1, row 0
  EXPECT_FLOAT_EQ(y[3], -2 + 0.5f + 1 - 1);    // token 1, row 1
}

TEST(MatmulOps, DispatchedMatchesReference) {
  std::mt19937 rng(3);
  ThreadPool pool(2);
  const size_t n_tokens = 3, d_in = 77, d_out = 41;
  auto x = testing::random_floats(rng, n_tokens * d_in);
  auto w = testing::random_floats(rng, d_out * d_in);
  std::vector<float> y(n_tokens * d_out), y_ref(n_tokens * d_out);
  matmul(y.data(), x.data(), w.data(), DType::F32, nullptr, n_tokens, d_in, d_out, pool);
  ref::matmul_rows(y_ref.data(), x.data(), w.data(), DType::F32, nullptr, n_tokens, d_in, d_out, 0, d_out);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], y_ref[i], 1e-4);
}

}  // namespace
}  // namespace tokenmill::kernels
