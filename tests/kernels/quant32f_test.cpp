// The float-activation matmul of the 32-element family (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights, f32
// activations): the scalar reference against a double sum over weights decoded straight from the
// block layout, and every ISA's kernel against the reference. Both bounds allow only the rounding
// of f32 sums, relative to sum_i |x_i w_i| (+ |bias|).
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernel_test_util.h"
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

// w decoded to f32 straight from the layout, as the format defines each element:
// d * (q - offset) + m, rounded in f32. w: [d_out] rows of d_in / 32 blocks. Returns [d_out, d_in].
std::vector<float> decoded_weights(DType type, const std::vector<uint8_t>& w, size_t d_out, size_t d_in) {
  std::vector<float> out(d_out * d_in);
  const size_t bs = dtype_block_bytes(type);
  for (size_t b = 0; b < d_out * d_in / 32; ++b) {
    const Codes c = decode_block(type, w.data() + b * bs);
    for (size_t i = 0; i < 32; ++i) out[b * 32 + i] = c.d * float(c.q[i] - c.offset) + c.m;
  }
  return out;
}

// exact[t, o] = bias[o] + sum_i x[t, i] * w[o, i] in double, and mag[t, o] = |bias[o]| +
// sum_i |x[t, i] * w[o, i]|, the scale of f32 rounding in any summation order.
struct Exact {
  std::vector<double> value, mag;  // [n_tokens, d_out]
};

Exact exact_product(const std::vector<float>& w, const std::vector<float>& x, const float* bias,
                    size_t n_tokens, size_t d_in, size_t d_out) {
  Exact e{std::vector<double>(n_tokens * d_out), std::vector<double>(n_tokens * d_out)};
  for (size_t t = 0; t < n_tokens; ++t)
    for (size_t o = 0; o < d_out; ++o) {
      double v = bias != nullptr ? bias[o] : 0.0, m = std::fabs(v);
      for (size_t i = 0; i < d_in; ++i) {
        const double p = double(x[t * d_in + i]) * double(w[o * d_in + i]);
        v += p;
        m += std::fabs(p);
      }
      e.value[t * d_out + o] = v;
      e.mag[t * d_out + o] = m;
    }
  return e;
}

class Quant32FloatActTest : public IsaTest {};

// Every ISA's row kernel against the reference: token counts across the register tiles and the
// token chunks (64 tokens of 4128 columns span two), rows that are not a multiple of the 32-block
// superblocks, odd row counts and ranges, bias or not; rows outside the range stay untouched.
TEST_P(Quant32FloatActTest, RowsMatchReference) {
  std::mt19937 rng(21);
  for (DType type : kTypes)
    for (size_t n_tokens : {1, 3, 17, 64})
      for (size_t d_in : {32, 96, 4128})
        for (size_t d_out : {1, 13, 37}) {
          const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
          const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
          const std::vector<float> bias_v = testing::random_floats(rng, d_out);
          const bool with_bias = (n_tokens + d_in / 32 + d_out) % 2 == 0;
          const float* bias = with_bias ? bias_v.data() : nullptr;
          std::vector<float> expected(n_tokens * d_out);
          ref_table().fmatmul_rows[quant_index(type)](expected.data(), x.data(), w.data(), bias, n_tokens,
                                                      d_in, d_out, 0, d_out);
          const Exact exact =
              exact_product(decoded_weights(type, w, d_out, d_in), x, bias, n_tokens, d_in, d_out);
          const size_t ranges[][2] = {
              {0, d_out}, {d_out / 3, d_out - d_out / 4}, {std::min<size_t>(1, d_out - 1), d_out}};
          for (const auto& range : ranges) {
            const size_t rb = range[0], re = range[1];
            std::vector<float> got(n_tokens * d_out, kGuard);
            table().fmatmul_rows[quant_index(type)](got.data(), x.data(), w.data(), bias, n_tokens, d_in,
                                                    d_out, rb, re);
            for (size_t t = 0; t < n_tokens; ++t)
              for (size_t o = 0; o < d_out; ++o) {
                const size_t i = t * d_out + o;
                if (o < rb || o >= re) {
                  ASSERT_EQ(got[i], kGuard) << "row " << o << " outside [" << rb << ", " << re << ")";
                  continue;
                }
                ASSERT_NEAR(got[i], expected[i], 1e-5 * exact.mag[i] + 1e-30)
                    << dtype_name(type) << " n_tokens " << n_tokens << " d_in " << d_in << " d_out " << d_out
                    << " rows [" << rb << ", " << re << ") t " << t << " o " << o;
              }
          }
        }
}

// kernels::matmul_float_act (rows split over a 2-thread pool) against the reference.
TEST_P(Quant32FloatActTest, ThreadedMatmulMatchesReference) {
  std::mt19937 rng(22);
  ThreadPool pool(2);
  for (DType type : kTypes)
    for (size_t n_tokens : {1, 7, 40})
      for (size_t d_out : {37, 130}) {
        const size_t d_in = 320;
        const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
        const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
        const std::vector<float> bias = testing::random_floats(rng, d_out);
        std::vector<float> expected(n_tokens * d_out), got(n_tokens * d_out + 1, kGuard);
        ref_table().fmatmul_rows[quant_index(type)](expected.data(), x.data(), w.data(), bias.data(),
                                                    n_tokens, d_in, d_out, 0, d_out);
        matmul_float_act(table(), got.data(), x.data(), w.data(), type, bias.data(), n_tokens, d_in, d_out,
                         pool);
        ASSERT_EQ(got.back(), kGuard);
        const Exact exact =
            exact_product(decoded_weights(type, w, d_out, d_in), x, bias.data(), n_tokens, d_in, d_out);
        for (size_t i = 0; i < n_tokens * d_out; ++i)
          ASSERT_NEAR(got[i], expected[i], 1e-5 * exact.mag[i])
              << dtype_name(type) << " n_tokens " << n_tokens << " d_out " << d_out << " at " << i;
      }
}

// Long rows shrink the token chunk kept cache-resident (~1 MiB of activations) to 16 tokens, so 50
// tokens span four chunks.
TEST_P(Quant32FloatActTest, ManyTokensSpanSeveralChunks) {
  std::mt19937 rng(23);
  const size_t n_tokens = 50, d_in = 16384, d_out = 9;
  for (DType type : {DType::Q4_0, DType::Q8_0}) {
    const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
    const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
    std::vector<float> got(n_tokens * d_out);
    table().fmatmul_rows[quant_index(type)](got.data(), x.data(), w.data(), nullptr, n_tokens, d_in, d_out, 0,
                                            d_out);
    const Exact exact =
        exact_product(decoded_weights(type, w, d_out, d_in), x, nullptr, n_tokens, d_in, d_out);
    for (size_t i = 0; i < n_tokens * d_out; ++i)
      ASSERT_NEAR(got[i], exact.value[i], 1e-5 * exact.mag[i]) << dtype_name(type) << " at " << i;
  }
}

// Types without a float-activation kernel are refused by name; the rest must be whole blocks.
TEST_P(Quant32FloatActTest, UnsupportedTypesAndShapesThrow) {
  for (DType type : kTypes) EXPECT_TRUE(has_float_act_matmul(table(), type)) << dtype_name(type);
  for (DType type : {DType::Q4_K, DType::Q6_K, DType::Q4_0_R16, DType::Q8_0_R16, DType::F16, DType::F32})
    EXPECT_FALSE(has_float_act_matmul(table(), type)) << dtype_name(type);
  ThreadPool pool(1);
  std::vector<uint8_t> w(1024);
  std::vector<float> x(256), y(8);
  try {
    matmul_float_act(table(), y.data(), x.data(), w.data(), DType::Q4_K, nullptr, 1, 256, 1, pool);
    FAIL() << "Q4_K has no float-activation kernel";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K"), std::string::npos) << e.what();
  }
  EXPECT_THROW(matmul_float_act(table(), y.data(), x.data(), w.data(), DType::Q4_0, nullptr, 1, 48, 1, pool),
               Error);
}

// A hand-checked Q4_0 row: codes 0..15 (elements 0..15, low nibbles) and 15..0 (16..31, high
// nibbles) with d = 0.5, against x = 1 for the first half and 2 for the second:
// sum_{q=0..15} 0.5 (q - 8) + 2 * sum_{q=0..15} 0.5 (q - 8) = 3 * 0.5 * (120 - 128) = -12.
TEST_P(Quant32FloatActTest, Q4_0HandComputed) {
  BlockQ4_0 b;
  b.d = f32_to_fp16(0.5f);
  for (int i = 0; i < 16; ++i) b.qs[i] = uint8_t(i | (15 - i) << 4);
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = i < 16 ? 1.0f : 2.0f;
  x[0] = 100.0f;  // element 0 has code 0: weight -4
  float y = 0.0f;
  table().fmatmul_rows[quant_index(DType::Q4_0)](&y, x, &b, nullptr, 1, 32, 1, 0, 1);
  EXPECT_EQ(y, -12.0f + 99.0f * -4.0f);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Quant32FloatActTest, TOKENMILL_ALL_ISAS, testing::isa_param_name);

// The specification against an independent double sum over weights decoded from the layout: the
// reference sums in double, so only the final rounding to f32 remains.
TEST(Quant32FloatActRef, MatchesExactSumOfDequantizedWeights) {
  std::mt19937 rng(24);
  for (DType type : kTypes)
    for (size_t n_tokens : {1, 3})
      for (size_t d_in : {96, 4128}) {
        const size_t d_out = 5;
        const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
        const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in, -2.0f, 2.0f);
        const std::vector<float> bias = testing::random_floats(rng, d_out);
        std::vector<float> y(n_tokens * d_out);
        ref_table().fmatmul_rows[quant_index(type)](y.data(), x.data(), w.data(), bias.data(), n_tokens, d_in,
                                                    d_out, 0, d_out);
        const Exact exact =
            exact_product(decoded_weights(type, w, d_out, d_in), x, bias.data(), n_tokens, d_in, d_out);
        // The weights must also be exactly the dequantization's (to_f32).
        std::vector<float> dequantized(d_out * d_in);
        ref_table().dequantize[quant_index(type)](dequantized.data(), w.data(), d_out * d_in);
        ASSERT_EQ(dequantized, decoded_weights(type, w, d_out, d_in)) << dtype_name(type);
        for (size_t i = 0; i < n_tokens * d_out; ++i)
          ASSERT_NEAR(y[i], exact.value[i], 1e-6 * exact.mag[i])
              << dtype_name(type) << " d_in " << d_in << " at " << i;
      }
}

}  // namespace
}  // namespace tokenmill::kernels
