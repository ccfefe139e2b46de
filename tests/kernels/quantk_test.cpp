// K-quant kernels (Q2_K .. Q6_K): the reference against exact sums, every ISA against the
// reference (activation quantization and dequantization byte for byte, matmul within a
// magnitude-relative tolerance), and the pooled matmul entry point.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/quant_blocks.h"
#include "kernels/variants.h"

namespace tokenmill::kernels {
namespace {

using testing::IsaTest;

constexpr DType kKTypes[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
constexpr float kGuard = 12345.0f;

const KernelTable& ref_table() {
  return kernel_table(Isa::Scalar);
}

// f16 bits of a scale of realistic size (as a quantizer of weights ~N(0, 0.05) would produce).
uint16_t random_scale(std::mt19937& rng, bool allow_negative) {
  std::uniform_real_distribution<float> mag(1e-4f, 5e-3f);
  const float v = mag(rng);
  return f32_to_fp16(allow_negative && (rng() & 1) ? -v : v);
}

// Random bytes for every quant, scale and mask field (all bit patterns), realistic f16 d / dmin.
// Returns d_out rows of d_in / 256 blocks of dtype.
std::vector<uint8_t> random_weights(std::mt19937& rng, DType dtype, size_t d_out, size_t d_in) {
  const size_t block_bytes = dtype_block_bytes(dtype), n_blocks = d_out * d_in / kQKK;
  std::vector<uint8_t> bytes(n_blocks * block_bytes);
  for (uint8_t& b : bytes) b = uint8_t(rng());
  for (size_t i = 0; i < n_blocks; ++i) {
    uint8_t* block = bytes.data() + i * block_bytes;
    auto set_half = [&](size_t offset, uint16_t h) { std::memcpy(block + offset, &h, 2); };
    switch (dtype) {
      case DType::Q2_K:
        set_half(offsetof(BlockQ2_K, d), random_scale(rng, false));
        set_half(offsetof(BlockQ2_K, dmin), random_scale(rng, false));
        break;
      case DType::Q3_K:
        set_half(offsetof(BlockQ3_K, d), random_scale(rng, true));
        break;
      case DType::Q4_K:
        set_half(offsetof(BlockQ4_K, d), random_scale(rng, false));
        set_half(offsetof(BlockQ4_K, dmin), random_scale(rng, false));
        break;
      case DType::Q5_K:
        set_half(offsetof(BlockQ5_K, d), random_scale(rng, false));
        set_half(offsetof(BlockQ5_K, dmin), random_scale(rng, false));
        break;
      default:
        set_half(offsetof(BlockQ6_K, d), random_scale(rng, true));
        break;
    }
  }
  return bytes;
}

// Activations: mostly N(0, 1), with a zero row when zero_row < n_rows.
std::vector<float> random_activations(std::mt19937& rng, size_t n_rows, size_t d_in,
                                      size_t zero_row = size_t(-1)) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n_rows * d_in);
  for (float& v : x) v = dist(rng);
  if (zero_row < n_rows) std::fill(x.begin() + zero_row * d_in, x.begin() + (zero_row + 1) * d_in, 0.0f);
  return x;
}

std::vector<uint8_t> quantize(const KernelTable& k, const std::vector<float>& x, size_t n_rows, size_t d_in) {
  std::vector<uint8_t> q(n_rows * act_row_bytes(DType::Q4_K, d_in));
  k.quantize_q8k(q.data(), x.data(), n_rows, d_in);
  return q;
}

std::vector<float> dequantize(const KernelTable& k, DType dtype, const std::vector<uint8_t>& w, size_t n) {
  std::vector<float> out(n);
  k.dequantize[quant_index(dtype)](out.data(), w.data(), n);
  return out;
}

// The activation values the kernels compute with: d * qs. xq: n_rows rows of BlockQ8K.
std::vector<double> dequantized_activations(const std::vector<uint8_t>& xq, size_t n_rows, size_t d_in) {
  std::vector<double> out(n_rows * d_in);
  const BlockQ8K* blocks = reinterpret_cast<const BlockQ8K*>(xq.data());
  for (size_t b = 0; b < n_rows * d_in / kQKK; ++b)
    for (size_t i = 0; i < kQKK; ++i) out[b * kQKK + i] = double(blocks[b].d) * blocks[b].qs[i];
  return out;
}

class QuantKTest : public IsaTest {};

TEST_P(QuantKTest, ActivationQuantizationIsByteExact) {
  std::mt19937 rng(1);
  for (size_t d_in : {256, 2304}) {
    const size_t n_rows = 4;
    std::vector<float> x = random_activations(rng, n_rows, d_in, 1);
    // Row 3: amax 127 so id = 1, and halves everywhere: every product is a rounding tie.
    for (size_t i = 0; i < d_in; ++i) x[3 * d_in + i] = float(int(rng() % 254) - 127) + 0.5f;
    for (size_t b = 0; b < d_in / kQKK; ++b) x[3 * d_in + b * kQKK] = 127.0f;
    const std::vector<uint8_t> expect = quantize(ref_table(), x, n_rows, d_in);
    const std::vector<uint8_t> got = quantize(table(), x, n_rows, d_in);
    ASSERT_EQ(std::memcmp(expect.data(), got.data(), got.size()), 0) << "d_in " << d_in;
    // The spec itself on the tie row: round half to even, and the zero row.
    const BlockQ8K* blocks = reinterpret_cast<const BlockQ8K*>(got.data());
    const size_t nb = d_in / kQKK;
    EXPECT_EQ(blocks[nb].d, 0.0f);
    for (size_t i = 0; i < kQKK; ++i) EXPECT_EQ(blocks[nb].qs[i], 0);
    EXPECT_EQ(blocks[3 * nb].d, 1.0f);
    for (size_t i = 1; i < kQKK; ++i) EXPECT_EQ(blocks[3 * nb].qs[i], int(std::nearbyint(x[3 * d_in + i])));
  }
}

TEST_P(QuantKTest, BsumsAreSumsOfSixteen) {
  std::mt19937 rng(2);
  const std::vector<float> x = random_activations(rng, 2, 512);
  const std::vector<uint8_t> q = quantize(table(), x, 2, 512);
  const BlockQ8K* blocks = reinterpret_cast<const BlockQ8K*>(q.data());
  for (size_t b = 0; b < 4; ++b)
    for (size_t k = 0; k < 16; ++k) {
      int sum = 0;
      for (size_t i = 0; i < 16; ++i) sum += blocks[b].qs[16 * k + i];
      EXPECT_EQ(blocks[b].bsums[k], sum);
    }
}

TEST_P(QuantKTest, DequantizeMatchesReferenceExactly) {
  std::mt19937 rng(3);
  for (DType dtype : kKTypes) {
    const size_t n = 8 * kQKK;
    const std::vector<uint8_t> w = random_weights(rng, dtype, 1, n);
    const std::vector<float> expect = dequantize(ref_table(), dtype, w, n);
    const std::vector<float> got = dequantize(table(), dtype, w, n);
    ASSERT_EQ(std::memcmp(expect.data(), got.data(), n * sizeof(float)), 0) << dtype_name(dtype);
  }
}

// y[t, o] of the reference against a double-precision sum of dequantized weights times
// dequantized activations.
TEST(QuantKRefTest, MatmulMatchesDequantizedSum) {
  std::mt19937 rng(4);
  const size_t n_tokens = 3, d_in = 768, d_out = 5;
  for (DType dtype : kKTypes) {
    const std::vector<uint8_t> w = random_weights(rng, dtype, d_out, d_in);
    const std::vector<float> wf = dequantize(ref_table(), dtype, w, d_out * d_in);
    const std::vector<float> x = random_activations(rng, n_tokens, d_in);
    const std::vector<uint8_t> xq = quantize(ref_table(), x, n_tokens, d_in);
    const std::vector<double> xd = dequantized_activations(xq, n_tokens, d_in);
    std::vector<float> bias = testing::random_floats(rng, d_out);
    std::vector<float> y(n_tokens * d_out);
    ref_table().qmatmul_rows[quant_index(dtype)](y.data(), xq.data(), w.data(), bias.data(), n_tokens, d_in,
                                                 d_out, 0, d_out);
    for (size_t t = 0; t < n_tokens; ++t)
      for (size_t o = 0; o < d_out; ++o) {
        double exact = bias[o], magnitude = std::fabs(bias[o]);
        for (size_t i = 0; i < d_in; ++i) {
          const double term = double(wf[o * d_in + i]) * xd[t * d_in + i];
          exact += term;
          magnitude += std::fabs(term);
        }
        ASSERT_NEAR(y[t * d_out + o], exact, 1e-5 * magnitude)
            << dtype_name(dtype) << " t " << t << " o " << o;
      }
  }
}

// Per-element |w| * |x| summed: the scale of rounding errors of any summation order.
double magnitude(const std::vector<float>& wf, const std::vector<double>& xd, size_t d_in, size_t o,
                 size_t t) {
  double m = 0.0;
  for (size_t i = 0; i < d_in; ++i) m += std::fabs(double(wf[o * d_in + i]) * xd[t * d_in + i]);
  return m;
}

TEST_P(QuantKTest, MatmulRowsMatchReference) {
  std::mt19937 rng(5);
  double worst_ratio = 0.0;
  for (DType dtype : kKTypes)
    for (size_t d_in : {256, 768, 2304})
      for (size_t d_out : {1, 3, 13, 37})
        for (size_t n_tokens : {1, 2, 3, 5, 17}) {
          const std::vector<uint8_t> w = random_weights(rng, dtype, d_out, d_in);
          const std::vector<float> wf = dequantize(ref_table(), dtype, w, d_out * d_in);
          const std::vector<float> x =
              random_activations(rng, n_tokens, d_in, n_tokens == 5 ? 2 : size_t(-1));
          const std::vector<uint8_t> xq = quantize(ref_table(), x, n_tokens, d_in);
          const std::vector<double> xd = dequantized_activations(xq, n_tokens, d_in);
          const std::vector<float> bias = testing::random_floats(rng, d_out);
          const bool use_bias = (d_out + n_tokens) % 2 == 0;
          // Row ranges that start and end off 4-row tile boundaries, and the whole matrix.
          const size_t row_begin = d_out > 2 ? 1 : 0, row_end = d_out > 6 ? d_out - 2 : d_out;
          std::vector<float> expect(n_tokens * d_out, kGuard), got(n_tokens * d_out, kGuard);
          const float* b = use_bias ? bias.data() : nullptr;
          ref_table().qmatmul_rows[quant_index(dtype)](expect.data(), xq.data(), w.data(), b, n_tokens, d_in,
                                                       d_out, row_begin, row_end);
          table().qmatmul_rows[quant_index(dtype)](got.data(), xq.data(), w.data(), b, n_tokens, d_in, d_out,
                                                   row_begin, row_end);
          for (size_t t = 0; t < n_tokens; ++t)
            for (size_t o = 0; o < d_out; ++o) {
              const float e = expect[t * d_out + o], g = got[t * d_out + o];
              if (o < row_begin || o >= row_end) {
                ASSERT_EQ(g, kGuard) << "wrote outside the row range at o " << o;
                continue;
              }
              const double mag = magnitude(wf, xd, d_in, o, t) + (b ? std::fabs(b[o]) : 0.0);
              worst_ratio = std::max(worst_ratio, std::fabs(double(g) - e) / (mag + 1e-30));
              ASSERT_NEAR(g, e, 1e-5 * mag + 1e-30)
                  << dtype_name(dtype) << " d_in " << d_in << " d_out " << d_out << " n_tokens " << n_tokens
                  << " t " << t << " o " << o;
            }
        }
  RecordProperty("worst_error_over_magnitude", std::to_string(worst_ratio));
}

// The pooled entry point (activation quantization + row split over 2 threads) against the
// reference row kernel on the reference activations.
TEST_P(QuantKTest, PooledMatmulMatchesReference) {
  std::mt19937 rng(6);
  ThreadPool pool(2);
  const size_t d_in = 768, d_out = 67;
  for (DType dtype : kKTypes)
    for (size_t n_tokens : {1, 20}) {
      const std::vector<uint8_t> w = random_weights(rng, dtype, d_out, d_in);
      const std::vector<float> wf = dequantize(ref_table(), dtype, w, d_out * d_in);
      const std::vector<float> x = random_activations(rng, n_tokens, d_in);
      const std::vector<uint8_t> xq = quantize(ref_table(), x, n_tokens, d_in);
      const std::vector<double> xd = dequantized_activations(xq, n_tokens, d_in);
      const std::vector<float> bias = testing::random_floats(rng, d_out);
      std::vector<float> expect(n_tokens * d_out), got(n_tokens * d_out);
      ref_table().qmatmul_rows[quant_index(dtype)](expect.data(), xq.data(), w.data(), bias.data(), n_tokens,
                                                   d_in, d_out, 0, d_out);
      matmul(table(), got.data(), x.data(), w.data(), dtype, bias.data(), n_tokens, d_in, d_out, pool);
      for (size_t t = 0; t < n_tokens; ++t)
        for (size_t o = 0; o < d_out; ++o) {
          const double mag = magnitude(wf, xd, d_in, o, t) + std::fabs(bias[o]);
          ASSERT_NEAR(got[t * d_out + o], expect[t * d_out + o], 1e-5 * mag)
              << dtype_name(dtype) << " n_tokens " << n_tokens << " t " << t << " o " << o;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, QuantKTest, TOKENMILL_ALL_ISAS, testing::isa_param_name);

}  // namespace
}  // namespace tokenmill::kernels
