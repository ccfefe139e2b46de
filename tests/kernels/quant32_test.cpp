// The 32-element-block family (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): the scalar reference against
// exact sums, and every ISA's activation quantization, dequantization and quantized matmul
// against the reference.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernel_test_util.h"
#include "kernels/quant_blocks.h"
#include "kernels/variants.h"
#include "quant32_test_util.h"

namespace tokenmill::kernels {
namespace {

using testing::Codes;
using testing::decode_block;
using testing::IsaTest;
using testing::random_weights;

constexpr DType kTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};
constexpr float kGuard = 12345.0f;

const KernelTable& ref_table() {
  return kernel_table(Isa::Scalar);
}

std::vector<uint8_t> quantize_ref(const std::vector<float>& x, size_t n_rows, size_t d_in) {
  std::vector<uint8_t> xq(n_rows * act_row_bytes(DType::Q4_0, d_in));
  ref_table().quantize_q8a32(xq.data(), x.data(), n_rows, d_in);
  return xq;
}

// For every token and row, the sum over blocks of the magnitudes of the per-block terms the
// kernels add, plus |bias|: the scale of float rounding in any summation order.
// w: [d_out] rows of nb blocks of type; xq: [n_tokens] rows of nb BlockQ8A32. Returns [n_tokens, d_out].
std::vector<double> magnitudes(DType type, const std::vector<uint8_t>& w, const std::vector<uint8_t>& xq,
                               const float* bias, size_t n_tokens, size_t nb, size_t d_out) {
  const auto* x = reinterpret_cast<const BlockQ8A32*>(xq.data());
  std::vector<Codes> codes(d_out * nb);
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = decode_block(type, w.data() + i * dtype_block_bytes(type));
  std::vector<double> mag(n_tokens * d_out);
  for (size_t t = 0; t < n_tokens; ++t)
    for (size_t o = 0; o < d_out; ++o) {
      double m = bias != nullptr ? std::fabs(bias[o]) : 0.0;
      for (size_t b = 0; b < nb; ++b) {
        const Codes& c = codes[o * nb + b];
        const BlockQ8A32& a = x[t * nb + b];
        int isum = 0;
        for (int i = 0; i < 32; ++i) isum += std::abs(c.q[i] * a.qs[i]);
        m += std::fabs(double(c.d) * a.d) * isum + std::fabs((c.offset * double(c.d) - c.m) * a.s);
      }
      mag[t * d_out + o] = m;
    }
  return mag;
}

class Quant32Test : public IsaTest {};

TEST_P(Quant32Test, ActivationQuantizationIsByteExact) {
  std::mt19937 rng(1);
  for (size_t d_in : {32, 64, 2080}) {
    const size_t n_rows = 5;
    std::vector<float> x = testing::random_floats(rng, n_rows * d_in, -3.0f, 3.0f);
    for (size_t i = 0; i < d_in; ++i) x[i] = 0.0f;  // row 0: all zero
    x[d_in + 7] = 3.0e30f;                          // row 1: one huge value
    x[2 * d_in + 1] = -1.0e-30f;                    // row 2: tiny values in a block
    for (size_t i = 2 * d_in + 2; i < 2 * d_in + 32; ++i) x[i] = 1.0e-32f * float(i % 7);
    // Row 3: exact ties x * id = k + 0.5 (amax 127 gives id 1) to check rounding to even.
    for (size_t i = 0; i < d_in; ++i) x[3 * d_in + i] = i % 32 == 0 ? 127.0f : float(i % 9) - 3.5f;
    const std::vector<uint8_t> expected = quantize_ref(x, n_rows, d_in);
    std::vector<uint8_t> got(expected.size(), 0xcd);
    table().quantize_q8a32(got.data(), x.data(), n_rows, d_in);
    ASSERT_EQ(std::memcmp(got.data(), expected.data(), got.size()), 0) << "d_in " << d_in;
  }
}

TEST_P(Quant32Test, DequantizeMatchesReferenceExactly) {
  std::mt19937 rng(2);
  for (DType type : kTypes) {
    const size_t n = 32 * 37;
    const std::vector<uint8_t> w = random_weights(rng, type, 1, n);
    std::vector<float> expected(n), got(n);
    ref_table().dequantize[quant_index(type)](expected.data(), w.data(), n);
    table().dequantize[quant_index(type)](got.data(), w.data(), n);
    ASSERT_EQ(std::memcmp(got.data(), expected.data(), n * sizeof(float)), 0) << dtype_name(type);
    for (size_t i = 0; i < n; ++i) {
      const Codes c = decode_block(type, w.data() + i / 32 * dtype_block_bytes(type));
      ASSERT_EQ(expected[i], c.d * float(c.q[i % 32] - c.offset) + c.m) << dtype_name(type) << " " << i;
    }
  }
}

// Every ISA's row kernel against the reference: odd shapes, row ranges off tile boundaries, bias
// or not; rows outside the range must be left alone.
TEST_P(Quant32Test, RowsMatchReference) {
  std::mt19937 rng(3);
  for (DType type : kTypes)
    for (size_t n_tokens : {1, 2, 3, 5, 17, 67})
      for (size_t d_in : {32, 96, 160, 2080})
        for (size_t d_out : {1, 3, 13, 37}) {
          const size_t nb = d_in / 32;
          const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
          const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
          const std::vector<float> bias_v = testing::random_floats(rng, d_out);
          const std::vector<uint8_t> xq = quantize_ref(x, n_tokens, d_in);
          const bool with_bias = (n_tokens + nb + d_out) % 2 == 0;
          const float* bias = with_bias ? bias_v.data() : nullptr;
          std::vector<float> expected(n_tokens * d_out);
          ref_table().qmatmul_rows[quant_index(type)](expected.data(), xq.data(), w.data(), bias, n_tokens,
                                                      d_in, d_out, 0, d_out);
          const std::vector<double> mag = magnitudes(type, w, xq, bias, n_tokens, nb, d_out);
          const size_t ranges[][2] = {
              {0, d_out}, {d_out / 3, d_out - d_out / 4}, {std::min<size_t>(1, d_out - 1), d_out}};
          for (const auto& range : ranges) {
            const size_t rb = range[0], re = range[1];
            std::vector<float> got(n_tokens * d_out, kGuard);
            table().qmatmul_rows[quant_index(type)](got.data(), xq.data(), w.data(), bias, n_tokens, d_in,
                                                    d_out, rb, re);
            for (size_t t = 0; t < n_tokens; ++t)
              for (size_t o = 0; o < d_out; ++o) {
                const size_t i = t * d_out + o;
                if (o < rb || o >= re) {
                  ASSERT_EQ(got[i], kGuard) << "row " << o << " outside [" << rb << ", " << re << ")";
                  continue;
                }
                ASSERT_NEAR(got[i], expected[i], 1e-5 * mag[i] + 1e-30)
                    << dtype_name(type) << " n_tokens " << n_tokens << " d_in " << d_in << " d_out " << d_out
                    << " rows [" << rb << ", " << re << ") t " << t << " o " << o;
              }
          }
        }
}

// kernels::matmul (activation quantization + row split over a 2-thread pool) against the
// reference on the same quantized activations.
TEST_P(Quant32Test, ThreadedMatmulMatchesReference) {
  std::mt19937 rng(4);
  ThreadPool pool(2);
  for (DType type : kTypes)
    for (size_t n_tokens : {1, 7, 40})
      for (size_t d_out : {37, 130}) {
        const size_t d_in = 320, nb = d_in / 32;
        const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
        const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
        const std::vector<float> bias = testing::random_floats(rng, d_out);
        const std::vector<uint8_t> xq = quantize_ref(x, n_tokens, d_in);
        std::vector<float> expected(n_tokens * d_out), got(n_tokens * d_out + 1, kGuard);
        ref_table().qmatmul_rows[quant_index(type)](expected.data(), xq.data(), w.data(), bias.data(),
                                                    n_tokens, d_in, d_out, 0, d_out);
        matmul(table(), got.data(), x.data(), w.data(), type, bias.data(), n_tokens, d_in, d_out, pool);
        ASSERT_EQ(got.back(), kGuard);
        const std::vector<double> mag = magnitudes(type, w, xq, bias.data(), n_tokens, nb, d_out);
        for (size_t i = 0; i < n_tokens * d_out; ++i)
          ASSERT_NEAR(got[i], expected[i], 1e-5 * mag[i])
              << dtype_name(type) << " n_tokens " << n_tokens << " d_out " << d_out << " at " << i;
      }
}

// Long rows shrink the token chunk the kernels keep cache-resident (~1 MiB of activations) to a
// few dozen tokens, so 50 tokens span several chunks. The reference runs on a few rows only.
TEST_P(Quant32Test, ManyTokensSpanSeveralChunks) {
  if (GetParam() == Isa::Scalar) GTEST_SKIP() << "the reference itself";
  std::mt19937 rng(6);
  const size_t n_tokens = 50, d_in = 16384, d_out = 35, nb = d_in / 32;
  const size_t checked[][2] = {{0, 2}, {30, 35}};
  for (DType type : kTypes) {
    const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
    const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
    const std::vector<uint8_t> xq = quantize_ref(x, n_tokens, d_in);
    std::vector<float> expected(n_tokens * d_out), got(n_tokens * d_out);
    for (const auto& rows : checked)
      ref_table().qmatmul_rows[quant_index(type)](expected.data(), xq.data(), w.data(), nullptr, n_tokens,
                                                  d_in, d_out, rows[0], rows[1]);
    table().qmatmul_rows[quant_index(type)](got.data(), xq.data(), w.data(), nullptr, n_tokens, d_in, d_out,
                                            0, d_out);
    const std::vector<double> mag = magnitudes(type, w, xq, nullptr, n_tokens, nb, d_out);
    for (const auto& rows : checked)
      for (size_t t = 0; t < n_tokens; ++t)
        for (size_t o = rows[0]; o < rows[1]; ++o)
          ASSERT_NEAR(got[t * d_out + o], expected[t * d_out + o], 1e-5 * mag[t * d_out + o])
              << dtype_name(type) << " t " << t << " o " << o;
  }
}

// Rows so long that the kernels' buffer of per-block activation sums cannot hold a tile's: the
// sums are then computed where used (decode with 3 tokens, and a 7-token tile). Rows 0 and 16
// are checked: the first goes through the decode path's 16-row groups, the last through a panel.
TEST_P(Quant32Test, VeryLongRowsMatchReference) {
  if (GetParam() == Isa::Scalar) GTEST_SKIP() << "the reference itself";
  std::mt19937 rng(7);
  const size_t d_in = 32 * 8200, nb = d_in / 32, d_out = 17, bs_rows[2] = {0, 16};
  for (DType type : {DType::Q4_0, DType::Q8_0})
    for (size_t n_tokens : {3, 7}) {
      const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
      const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
      const std::vector<uint8_t> xq = quantize_ref(x, n_tokens, d_in);
      std::vector<float> expected(n_tokens * d_out), got(n_tokens * d_out);
      table().qmatmul_rows[quant_index(type)](got.data(), xq.data(), w.data(), nullptr, n_tokens, d_in, d_out,
                                              0, d_out);
      const size_t row_bytes = nb * dtype_block_bytes(type);
      for (size_t o : bs_rows) {
        ref_table().qmatmul_rows[quant_index(type)](expected.data(), xq.data(), w.data(), nullptr, n_tokens,
                                                    d_in, d_out, o, o + 1);
        const std::vector<uint8_t> row(w.begin() + o * row_bytes, w.begin() + (o + 1) * row_bytes);
        const std::vector<double> mag = magnitudes(type, row, xq, nullptr, n_tokens, nb, 1);
        for (size_t t = 0; t < n_tokens; ++t)
          ASSERT_NEAR(got[t * d_out + o], expected[t * d_out + o], 1e-5 * mag[t])
              << dtype_name(type) << " n_tokens " << n_tokens << " t " << t << " o " << o;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Quant32Test, TOKENMILL_ALL_ISAS, testing::isa_param_name);

// The reference against a double-precision sum over dequantized weights and activations.
TEST(Quant32Ref, MatmulMatchesExactSumOfDequantizedValues) {
  std::mt19937 rng(5);
  for (DType type : kTypes) {
    const size_t n_tokens = 3, d_in = 2080, d_out = 5, nb = d_in / 32;
    const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
    const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
    const std::vector<float> bias = testing::random_floats(rng, d_out);
    const std::vector<uint8_t> xq = quantize_ref(x, n_tokens, d_in);
    const auto* xb = reinterpret_cast<const BlockQ8A32*>(xq.data());
    const std::vector<double> mag = magnitudes(type, w, xq, bias.data(), n_tokens, nb, d_out);
    std::vector<float> w_deq(d_out * d_in), y(n_tokens * d_out);
    ref_table().dequantize[quant_index(type)](w_deq.data(), w.data(), d_out * d_in);
    ref_table().qmatmul_rows[quant_index(type)](y.data(), xq.data(), w.data(), bias.data(), n_tokens, d_in,
                                                d_out, 0, d_out);
    for (size_t t = 0; t < n_tokens; ++t)
      for (size_t o = 0; o < d_out; ++o) {
        double exact = bias[o];
        for (size_t i = 0; i < d_in; ++i) {
          const BlockQ8A32& a = xb[t * nb + i / 32];
          exact += double(w_deq[o * d_in + i]) * (double(a.d) * a.qs[i % 32]);
        }
        ASSERT_NEAR(y[t * d_out + o], exact, 1e-5 * mag[t * d_out + o])
            << dtype_name(type) << " t " << t << " o " << o;
      }
  }
}

// The quantization rule on a hand-checked block: amax 127 gives d = 1 and id = 1, so the codes
// are x rounded half to even.
TEST(Quant32Ref, QuantizeHandComputed) {
  float x[32] = {127.0f, -63.5f, 62.5f, 0.5f, 1.5f, -2.5f, 3.25f};
  BlockQ8A32 b;
  ref_table().quantize_q8a32(&b, x, 1, 32);
  const int expected[7] = {127, -64, 62, 0, 2, -2, 3};
  for (int i = 0; i < 7; ++i) EXPECT_EQ(b.qs[i], expected[i]) << i;
  EXPECT_EQ(b.d, 1.0f);
  EXPECT_EQ(b.s, float(127 - 64 + 62 + 0 + 2 - 2 + 3));
}

}  // namespace
}  // namespace tokenmill::kernels
