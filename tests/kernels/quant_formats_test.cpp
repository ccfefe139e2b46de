// ggml's quantized formats against the PyPI gguf package (fixtures written by
// python/fixtures/gen_quant_fixtures.py), and the weight quantizers of kernels/quantize_weights.h:
// gguf's bytes for the 32-element block types, measured error bounds for all types, and exact
// round trips of values the formats represent exactly.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "kernel_test_util.h"
#include "kernels/quantize_weights.h"

namespace tokenmill::kernels {
namespace {

using testing::IsaTest;

constexpr size_t kFixtureRowElements = 512;  // rows.f32 is [rows, 512]
constexpr float kGuard = -12345.0f;

std::vector<uint8_t> read_fixture(const std::string& name) {
  const std::string path = std::string(TOKENMILL_SOURCE_DIR) + "/tests/fixtures/quant/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> read_f32_fixture(const std::string& name) {
  const std::vector<uint8_t> bytes = read_fixture(name);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

std::string type_name(DType t) {
  return std::string(dtype_name(t));
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Index of the first element whose bit pattern differs, or n when all are equal. The sign of a
// zero is not compared: d * 0 is -0 for a negative d in the reference's order of evaluation and
// may be +0 in another (an offset subtracted after the product), the same value in any use.
size_t first_bit_difference(const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (bits_of(a[i]) != bits_of(b[i]) && !(a[i] == 0.0f && b[i] == 0.0f)) return i;
  return n;
}

bool has_dequantize(const KernelTable& k, DType t) {
  return k.dequantize[quant_index(t)] != nullptr;
}

// Dequantizes through the table's entry (kernels::to_f32), into a buffer with guard elements
// after the n outputs. Returns the n values; fails the test on a store past them.
std::vector<float> dequantize_checked(const KernelTable& k, DType t, const void* src, size_t n) {
  std::vector<float> out(n + 16, kGuard);
  to_f32(k, out.data(), src, t, n);
  for (size_t i = n; i < out.size(); ++i) EXPECT_EQ(out[i], kGuard) << type_name(t) << " n " << n;
  out.resize(n);
  return out;
}

class QuantFormatsTest : public IsaTest {};

// Every ISA's dequantization of random valid blocks equals gguf's, bit for bit (up to the sign
// of zeros): each element is one or two f32 products and at most one subtraction or addition,
// which any evaluation without fused multiply-add rounds identically.
TEST_P(QuantFormatsTest, DequantizeEqualsGgufBitwise) {
  std::string missing;
  for (DType t : kQuantTypes) {
    if (!has_dequantize(table(), t)) {
      missing += " " + type_name(t);
      continue;
    }
    const std::vector<uint8_t> blocks = read_fixture(type_name(t) + ".blocks.bin");
    const std::vector<float> want = read_f32_fixture(type_name(t) + ".dequant.f32");
    const size_t n_blocks = blocks.size() / dtype_block_bytes(t);
    const size_t n = n_blocks * dtype_block_elements(t);
    ASSERT_GT(n_blocks, 3u) << type_name(t);
    ASSERT_EQ(want.size(), n) << type_name(t);
    // All blocks, and short runs of 1 and 3 blocks (SIMD tails).
    for (size_t count : {n_blocks, size_t(1), size_t(3)}) {
      const size_t m = count * dtype_block_elements(t);
      const std::vector<float> got = dequantize_checked(table(), t, blocks.data(), m);
      const size_t at = first_bit_difference(got.data(), want.data(), m);
      EXPECT_EQ(at, m) << type_name(t) << " (" << count << " blocks) element " << at << " of block "
                       << at / dtype_block_elements(t) << ": got " << got[at] << ", gguf " << want[at];
    }
  }
  EXPECT_TRUE(missing.empty()) << "no dequantize kernel registered for" << missing;
}

TEST_P(QuantFormatsTest, DequantizeRejectsPartialBlocks) {
  for (DType t : kQuantTypes) {
    if (!has_dequantize(table(), t)) continue;
    std::vector<uint8_t> block(dtype_block_bytes(t), 0);
    float out[kQKK];
    EXPECT_THROW(to_f32(table(), out, block.data(), t, dtype_block_elements(t) - 1), Error) << type_name(t);
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, QuantFormatsTest, TOKENMILL_ALL_ISAS, testing::isa_param_name);

// --- quantizers -------------------------------------------------------------------------------

// The scalar table dequantizes the quantizers' output; types it has no kernel for are skipped.
const KernelTable& scalar_table() {
  return kernel_table(Isa::Scalar);
}

// The 32-element block types reproduce gguf.quants.quantize (ggml's reference) byte for byte,
// on rows with zero and constant blocks, outliers, rounding ties, f16-subnormal and large scales.
TEST(QuantizeWeights, BlockTypes32EqualGgufBytes) {
  const std::vector<float> rows = read_f32_fixture("rows.f32");
  const size_t n_rows = rows.size() / kFixtureRowElements;
  ASSERT_EQ(n_rows * kFixtureRowElements, rows.size());
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
    const std::vector<uint8_t> want = read_fixture(type_name(t) + ".quantized.bin");
    const size_t row_bytes = dtype_row_bytes(t, kFixtureRowElements);
    ASSERT_EQ(want.size(), n_rows * row_bytes) << type_name(t);
    std::vector<uint8_t> got(want.size());
    for (size_t r = 0; r < n_rows; ++r)
      quantize_row(t, rows.data() + r * kFixtureRowElements, got.data() + r * row_bytes, kFixtureRowElements);
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i] != want[i]) {
        const size_t block = i / dtype_block_bytes(t);
        ADD_FAILURE() << type_name(t) << ": byte " << i << " (block " << block << ", byte "
                      << i % dtype_block_bytes(t) << ") is " << int(got[i]) << ", gguf " << int(want[i]);
        break;
      }
    }
  }
}

TEST(QuantizeWeights, RowsOverThreadsEqualRowByRow) {
  std::mt19937 rng(5);
  const size_t n_rows = 37, n_per_row = 512;
  const std::vector<float> x = testing::random_floats(rng, n_rows * n_per_row, -2.0f, 2.0f);
  ThreadPool pool(2);
  for (DType t : kQuantTypes) {
    const size_t row_bytes = dtype_row_bytes(t, n_per_row);
    std::vector<uint8_t> threaded(n_rows * row_bytes + 8, 0xA5), single(n_rows * row_bytes);
    EXPECT_EQ(quantize_rows(t, x.data(), threaded.data(), n_rows, n_per_row, pool), n_rows * row_bytes);
    for (size_t r = 0; r < n_rows; ++r)
      quantize_row(t, x.data() + r * n_per_row, single.data() + r * row_bytes, n_per_row);
    EXPECT_TRUE(std::equal(single.begin(), single.end(), threaded.begin())) << type_name(t);
    for (size_t i = single.size(); i < threaded.size(); ++i)
      EXPECT_EQ(threaded[i], 0xA5) << type_name(t) << ": wrote past the rows";
  }
}

TEST(QuantizeWeights, RejectsPlainTypesAndPartialBlocks) {
  float x[kQKK] = {};
  uint8_t out[1024];
  ThreadPool pool(1);
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I8})
    EXPECT_THROW(quantize_row(t, x, out, 32), Error) << type_name(t);
  EXPECT_THROW(quantize_row(DType::Q4_0, x, out, 48), Error);
  EXPECT_THROW(quantize_row(DType::Q4_K, x, out, 128), Error);
  EXPECT_THROW(quantize_rows(DType::Q6_K, x, out, 1, 32, pool), Error);
}

// Relative RMS error sqrt(mean((dq(q(x)) - x)^2) / mean(x^2)) on standard Gaussian rows, with
// the bound each type must stay below (measured values plus about 10%; docs/quantization.md).
struct ErrorBound {
  DType type;
  double max_relative_rms;
};
constexpr ErrorBound kErrorBounds[] = {
    {DType::Q8_0, 0.0060}, {DType::Q6_K, 0.0190}, {DType::Q5_1, 0.0420}, {DType::Q5_K, 0.0400},
    {DType::Q5_0, 0.0480}, {DType::Q4_K, 0.0790}, {DType::Q4_1, 0.0860}, {DType::Q4_0, 0.0950},
    {DType::Q3_K, 0.1580}, {DType::Q2_K, 0.2950},
};

TEST(QuantizeWeights, GaussianRelativeErrorWithinBounds) {
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t n_rows = 64, n_per_row = 1024;
  std::vector<float> x(n_rows * n_per_row);
  for (float& v : x) v = normal(rng);
  ThreadPool pool(2);
  for (const ErrorBound& b : kErrorBounds) {
    if (!has_dequantize(scalar_table(), b.type)) {
      ADD_FAILURE() << "no dequantize kernel for " << type_name(b.type);
      continue;
    }
    std::vector<uint8_t> q(n_rows * dtype_row_bytes(b.type, n_per_row));
    quantize_rows(b.type, x.data(), q.data(), n_rows, n_per_row, pool);
    const std::vector<float> y = dequantize_checked(scalar_table(), b.type, q.data(), x.size());
    double err = 0.0, ref = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      ref += double(x[i]) * x[i];
    }
    const double rel = std::sqrt(err / ref);
    std::printf("  %-5s relative RMS error %.3f%% (bound %.2f%%)\n", type_name(b.type).c_str(), 100.0 * rel,
                100.0 * b.max_relative_rms);
    EXPECT_LT(rel, b.max_relative_rms) << type_name(b.type);
  }
}

// Rows of values a format holds exactly: f16 scales with few mantissa bits, integer q spanning
// each (sub-)block's full range, so that the quantizer's own scale search lands on them.
std::vector<float> representable_rows(DType t, std::mt19937& rng, size_t n) {
  std::vector<float> x(n);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto pow2 = [&](int lo, int hi) { return std::ldexp(1.0f, -uniform(lo, hi)); };
  auto sign = [&] { return uniform(0, 1) ? 1 : -1; };
  switch (t) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0: {
      // x = d * (q - offset), the largest magnitude at q - offset = -offset (Q8_0: +-127).
      const int half = t == DType::Q8_0 ? 127 : t == DType::Q4_0 ? 8 : 16;
      for (size_t b = 0; b < n / 32; ++b) {
        const float d = fp16_to_f32(f32_to_fp16(float(sign() * uniform(1, 1023)) * pow2(10, 16)));
        for (size_t i = 0; i < 32; ++i) {
          const int v = t == DType::Q8_0 ? uniform(-127, 127) : uniform(-half + 1, half - 1);
          x[b * 32 + i] = d * float(v);
        }
        x[b * 32 + size_t(uniform(0, 31))] = d * float(t == DType::Q8_0 ? sign() * 127 : -half);
      }
      break;
    }
    case DType::Q4_1:
    case DType::Q5_1: {
      // x = d * q + m with d, m multiples of 2^-10, q = 0 and q = levels both present.
      const int levels = t == DType::Q4_1 ? 15 : 31;
      for (size_t b = 0; b < n / 32; ++b) {
        const int d = uniform(1, 1023), m = uniform(-1023, 1023);
        for (size_t i = 0; i < 32; ++i) {
          const int q = i == 3 ? 0 : i == 17 ? levels : uniform(0, levels);
          x[b * 32 + i] = std::ldexp(float(d * q + m), -10);
        }
      }
      break;
    }
    case DType::Q2_K:
    case DType::Q4_K:
    case DType::Q5_K: {
      // x = d * sc * q - dmin * m; d = dmin a power of two; every sub-block spans q = 0 .. nmax;
      // sub-block 0 has the largest scale, sub-block 1 the largest min.
      const int sub = t == DType::Q2_K ? 16 : 32, nmax = t == DType::Q2_K ? 3 : t == DType::Q4_K ? 15 : 31;
      const int levels = t == DType::Q2_K ? 15 : 63;
      for (size_t s = 0; s < n / kQKK; ++s) {
        const float d = pow2(4, 12);
        for (int j = 0; j < int(kQKK) / sub; ++j) {
          const int sc = j == 0 ? levels : uniform(1, levels);
          const int m = j == 1 ? levels : uniform(0, levels);
          for (int i = 0; i < sub; ++i) {
            const int q = i == 2 ? 0 : i == 9 ? nmax : uniform(0, nmax);
            x[s * kQKK + size_t(j * sub + i)] = d * float(sc) * float(q) - d * float(m);
          }
        }
      }
      break;
    }
    case DType::Q3_K:
    case DType::Q6_K: {
      // x = d * sc * q with signed scales (sub-block 0 at the largest magnitude) and q = -nmax
      // present in every sub-block of 16.
      const int nmax = t == DType::Q3_K ? 4 : 32, levels = t == DType::Q3_K ? 31 : 127;
      for (size_t s = 0; s < n / kQKK; ++s) {
        const float d = pow2(4, 12);
        for (int j = 0; j < 16; ++j) {
          const int sc = sign() * (j == 0 ? levels : uniform(1, levels));
          for (int i = 0; i < 16; ++i) {
            const int q = i == 5 ? -nmax : uniform(-nmax + 1, nmax - 1);
            x[s * kQKK + size_t(j * 16 + i)] = d * float(sc) * float(q);
          }
        }
      }
      break;
    }
    default:
      ADD_FAILURE() << "not a quantized type";
  }
  return x;
}

TEST(QuantizeWeights, RepresentableValuesRoundTripExactly) {
  std::mt19937 rng(23);
  for (DType t : kQuantTypes) {
    if (!has_dequantize(scalar_table(), t)) {
      ADD_FAILURE() << "no dequantize kernel for " << type_name(t);
      continue;
    }
    const size_t n = 8 * kQKK;
    const std::vector<float> x = representable_rows(t, rng, n);
    std::vector<uint8_t> q(dtype_row_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    const std::vector<float> y = dequantize_checked(scalar_table(), t, q.data(), n);
    const size_t at = first_bit_difference(y.data(), x.data(), n);
    EXPECT_EQ(at, n) << type_name(t) << ": element " << at << " is " << y[at] << ", expected " << x[at];
  }
}

TEST(QuantizeWeights, ZeroRowsStayZero) {
  for (DType t : kQuantTypes) {
    if (!has_dequantize(scalar_table(), t)) continue;
    const std::vector<float> x(kQKK, 0.0f);
    std::vector<uint8_t> q(dtype_row_bytes(t, kQKK));
    quantize_row(t, x.data(), q.data(), kQKK);
    for (float v : dequantize_checked(scalar_table(), t, q.data(), kQKK)) ASSERT_EQ(v, 0.0f) << type_name(t);
  }
}

}  // namespace
}  // namespace tokenmill::kernels
