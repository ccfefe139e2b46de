// Weights repacked in groups of 16 rows (kernels/repack.h): the layout round-trips to the file's
// blocks, and every ISA's matmul over a repacked matrix equals its matmul over the file layout
// exactly (the same integer dots and float operations in the same order), for decode (1-4
// tokens, several groups read side by side) and prefill (panels) alike. The amx table's prefill
// rounds weights and activations to BF16 on the tile unit: it is held to the bound that rounding
// gives instead.
#include <cmath>
#include <cstring>
#include <random>

#include "core/aligned_buffer.h"
#include "core/error.h"
#include "kernel_test_util.h"
#include "kernels/repack.h"

namespace tokenmill::kernels {
namespace {

using testing::IsaTest;

constexpr DType kTypes[] = {DType::Q4_0, DType::Q8_0};
constexpr float kGuard = 12345.0f;

// Random codes with f16 scales in [1e-3, 0.05) of either sign.
std::vector<uint8_t> random_weights(std::mt19937& rng, DType type, size_t rows, size_t cols) {
  const size_t bs = dtype_block_bytes(type), n_blocks = rows * cols / 32;
  std::vector<uint8_t> w(n_blocks * bs);
  for (uint8_t& b : w) b = uint8_t(rng());
  std::uniform_real_distribution<float> mag(1e-3f, 0.05f);
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint16_t d = f32_to_fp16(rng() % 2 ? mag(rng) : -mag(rng));
    std::memcpy(&w[b * bs], &d, 2);
  }
  return w;
}

AlignedBuffer repack(const std::vector<uint8_t>& w, DType type, size_t rows, size_t cols) {
  ThreadPool pool(2);
  return repack_matrix(w.data(), type, rows, cols, pool);
}

TEST(Repack, EveryBlockReadsBackAsInTheFile) {
  std::mt19937 rng(1);
  for (DType type : kTypes)
    for (size_t rows : {16, 48})
      for (size_t cols : {64, 192, 2048}) {
        const std::vector<uint8_t> w = random_weights(rng, type, rows, cols);
        const AlignedBuffer packed = repack(w, type, rows, cols);
        ASSERT_EQ(packed.size(), w.size());
        ASSERT_EQ(reinterpret_cast<uintptr_t>(packed.data()) % 64, 0u);
        const size_t bs = dtype_block_bytes(type), nb = cols / 32;
        for (size_t r = 0; r < rows; ++r)
          for (size_t j = 0; j < nb; ++j) {
            uint8_t block[34];
            repacked_block(block, packed.data(), repacked_dtype(type), cols, r, j);
            ASSERT_EQ(std::memcmp(block, &w[(r * nb + j) * bs], bs), 0)
                << dtype_name(type) << " [" << rows << ", " << cols << "] row " << r << " block " << j;
          }
      }
}

// The layout of repack.h, checked on hand-picked bytes: row 17's block 3 of a [32, 128] Q4_0
// matrix is in group 1, pair 1, second block: scales at 2 * 16 * 18 + 2 * 256 + 32 + 2 * 1, code
// dword k at 2 * 16 * 18 + 256 + 64 k + 4 * 1.
TEST(Repack, LayoutIsTheDocumentedOne) {
  const size_t rows = 32, cols = 128, nb = 4, bs = 18;
  std::vector<uint8_t> w(rows * nb * bs, 0);
  uint8_t* blk = &w[(17 * nb + 3) * bs];
  for (size_t i = 0; i < bs; ++i) blk[i] = uint8_t(100 + i);
  const AlignedBuffer packed = repack(w, DType::Q4_0, rows, cols);
  const uint8_t* group1 = packed.data() + 16 * nb * bs;
  EXPECT_EQ(group1[2 * 16 * 18 + 2 * 256 + 32 + 2], 100);
  EXPECT_EQ(group1[2 * 16 * 18 + 2 * 256 + 32 + 3], 101);
  for (size_t k = 0; k < 4; ++k)
    for (size_t b = 0; b < 4; ++b) EXPECT_EQ(group1[2 * 16 * 18 + 256 + 64 * k + 4 + b], 102 + 4 * k + b);
  EXPECT_EQ(repacked_codes_offset(bs, 3), 2 * 16 * 18 + 256);
  EXPECT_EQ(repacked_scales_offset(bs, 3), 2 * 16 * 18 + 2 * 256 + 32);
}

TEST(Repack, RejectsWhatItCannotRepack) {
  ThreadPool pool(1);
  std::vector<uint8_t> w(64 * 34, 0);
  EXPECT_FALSE(repack_supported(DType::Q4_0, 15, 64));
  EXPECT_FALSE(repack_supported(DType::Q4_0, 16, 96));
  EXPECT_FALSE(repack_supported(DType::Q4_1, 16, 64));
  EXPECT_FALSE(repack_supported(DType::F16, 16, 64));
  EXPECT_TRUE(repack_supported(DType::Q8_0, 32, 128));
  EXPECT_THROW(repack_matrix(w.data(), DType::Q4_0, 16, 96, pool), Error);
  EXPECT_THROW(repack_matrix(w.data(), DType::Q5_0, 16, 64, pool), Error);
  EXPECT_EQ(repacked_dtype(DType::Q4_0), DType::Q4_0_R16);
  EXPECT_EQ(repack_base_dtype(DType::Q8_0_R16), DType::Q8_0);
  EXPECT_TRUE(dtype_is_repacked(DType::Q4_0_R16));
  EXPECT_FALSE(dtype_is_repacked(DType::Q4_0));
  DType parsed;
  EXPECT_FALSE(dtype_from_name("Q4_0_R16", parsed)) << "the repacked layouts are not a file type";
}

// The kernels computing the file layout the same way as this ISA's repacked ones: its own where it
// has repacked kernels, else the scalar reference (whose repacked entries the table inherits).
class RepackTest : public IsaTest {
 protected:
  const KernelTable& same_arithmetic() const {
    if (GetParam() == Isa::Amx) return kernel_table(Isa::Avx512Vnni);
    return table().prefers_repacked ? table() : kernel_table(Isa::Scalar);
  }
  bool rounds_to_bf16() const { return GetParam() == Isa::Amx; }
};

// Per output [n_tokens][d_out]: the most that rounding each weight and activation to BF16 (8
// significant bits, relative error <= 2^-9 each) can move it, 2^-8 * sum_k |w_k x_k|, with a
// margin for the f32 sums (1%) and 1e-6 absolute. w: file layout; xq: BlockQ8A32 activations.
std::vector<float> bf16_bounds(const std::vector<uint8_t>& w, DType type, const std::vector<uint8_t>& xq,
                               size_t n_tokens, size_t d_in, size_t d_out) {
  std::vector<float> wf(d_out * d_in), xf(n_tokens * d_in);
  kernel_table(Isa::Scalar).dequantize[quant_index(type)](wf.data(), w.data(), wf.size());
  const auto* blocks = reinterpret_cast<const BlockQ8A32*>(xq.data());
  for (size_t i = 0; i < xf.size(); ++i) xf[i] = blocks[i / 32].d * float(blocks[i / 32].qs[i % 32]);
  std::vector<float> bound(n_tokens * d_out);
  for (size_t t = 0; t < n_tokens; ++t)
    for (size_t o = 0; o < d_out; ++o) {
      double sum = 0;
      for (size_t k = 0; k < d_in; ++k) sum += std::fabs(double(wf[o * d_in + k]) * xf[t * d_in + k]);
      bound[t * d_out + o] = float(sum * 1.01 / 256.0 + 1e-6);
    }
  return bound;
}

// Activations quantized by the reference, as every ISA quantizes them byte for byte.
std::vector<uint8_t> quantize(const std::vector<float>& x, size_t n_tokens, size_t d_in) {
  std::vector<uint8_t> xq(n_tokens * act_row_bytes(DType::Q4_0, d_in));
  kernel_table(Isa::Scalar).quantize_q8a32(xq.data(), x.data(), n_tokens, d_in);
  return xq;
}

TEST_P(RepackTest, RowsEqualTheFileLayoutExactly) {
  std::mt19937 rng(2);
  for (DType type : kTypes)
    for (size_t n_tokens : {1, 2, 3, 4, 5, 13, 16, 37, 70})
      for (size_t d_in : {64, 192, 2048})
        for (size_t d_out : {16, 80, 144}) {
          if (n_tokens > 13 && d_in > 192) continue;  // long rows at many tokens: slow on the reference
          const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
          const AlignedBuffer packed = repack(w, type, d_out, d_in);
          const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
          const std::vector<float> bias = testing::random_floats(rng, d_out);
          const std::vector<uint8_t> xq = quantize(x, n_tokens, d_in);
          const std::vector<float> bound =
              rounds_to_bf16() ? bf16_bounds(w, type, xq, n_tokens, d_in, d_out) : std::vector<float>{};
          const size_t ranges[][2] = {{0, d_out}, {16, d_out}, {0, d_out - 16}};
          for (const auto& range : ranges) {
            const size_t rb = range[0], re = range[1];
            if (rb >= re) continue;
            std::vector<float> expected(n_tokens * d_out, kGuard), got(n_tokens * d_out, kGuard);
            same_arithmetic().qmatmul_rows[quant_index(type)](expected.data(), xq.data(), w.data(), bias.data(),
                                                              n_tokens, d_in, d_out, rb, re);
            table().qmatmul_rows[quant_index(repacked_dtype(type))](got.data(), xq.data(), packed.data(),
                                                                    bias.data(), n_tokens, d_in, d_out, rb, re);
            for (size_t i = 0; i < got.size(); ++i) {
              if (rounds_to_bf16() && expected[i] != kGuard) {
                ASSERT_NEAR(got[i], expected[i], bound[i]) << dtype_name(type) << " n_tokens " << n_tokens
                                                           << " d_in " << d_in << " d_out " << d_out << " at " << i;
                continue;
              }
              ASSERT_EQ(got[i], expected[i]) << dtype_name(type) << " n_tokens " << n_tokens << " d_in " << d_in
                                             << " d_out " << d_out << " rows [" << rb << ", " << re << ") at "
                                             << i;
            }
          }
        }
}

// kernels::matmul splits a repacked matrix between threads in whole groups.
TEST_P(RepackTest, ThreadedMatmulEqualsTheFileLayout) {
  std::mt19937 rng(3);
  ThreadPool pool(2);
  for (DType type : kTypes)
    for (size_t n_tokens : {1, 4, 40})
      for (size_t d_out : {16, 48, 400}) {
        const size_t d_in = 640;
        const std::vector<uint8_t> w = random_weights(rng, type, d_out, d_in);
        const AlignedBuffer packed = repack(w, type, d_out, d_in);
        const std::vector<float> x = testing::random_floats(rng, n_tokens * d_in);
        std::vector<float> expected(n_tokens * d_out), got(n_tokens * d_out);
        matmul(same_arithmetic(), expected.data(), x.data(), w.data(), type, nullptr, n_tokens, d_in, d_out, pool);
        matmul(table(), got.data(), x.data(), packed.data(), repacked_dtype(type), nullptr, n_tokens, d_in,
               d_out, pool);
        if (!rounds_to_bf16()) {
          ASSERT_EQ(got, expected) << dtype_name(type) << " n_tokens " << n_tokens << " d_out " << d_out;
          continue;
        }
        const std::vector<float> bound = bf16_bounds(w, type, quantize(x, n_tokens, d_in), n_tokens, d_in, d_out);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], expected[i], bound[i]) << dtype_name(type) << " n_tokens " << n_tokens << " at " << i;
      }
}

TEST_P(RepackTest, MatmulRejectsShapesAndBuffersTheLayoutCannotHave) {
  ThreadPool pool(1);
  std::mt19937 rng(4);
  const std::vector<uint8_t> w = random_weights(rng, DType::Q8_0, 32, 128);
  const AlignedBuffer packed = repack(w, DType::Q8_0, 32, 128);
  const std::vector<float> x(128, 0.5f);
  std::vector<float> y(32);
  EXPECT_THROW(matmul(table(), y.data(), x.data(), packed.data(), DType::Q8_0_R16, nullptr, 1, 128, 24, pool),
               Error);
  EXPECT_THROW(matmul(table(), y.data(), x.data(), packed.data() + 34, DType::Q8_0_R16, nullptr, 1, 128, 16,
                      pool),
               Error);
  std::vector<float> out(128);
  EXPECT_THROW(to_f32(table(), out.data(), packed.data(), DType::Q8_0_R16, 128), Error);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, RepackTest, TOKENMILL_ALL_ISAS, testing::isa_param_name);

}  // namespace
}  // namespace tokenmill::kernels
