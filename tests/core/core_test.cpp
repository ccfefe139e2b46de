// core: thread pool partitioning, f16/bf16 rounding, file mapping errors, ISA selection.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"

namespace tokenmill {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(64), size_t(1001)}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 3; ++rep)
        pool.parallel_for(n, [&](size_t begin, size_t end, int thread) {
          EXPECT_LT(thread, threads);
          for (size_t i = begin; i < end; ++i) ++hits[i];
        });
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 3) << "threads " << threads << " n " << n;
    }
  }
}

TEST(Dtype, HalfRoundsToNearestEven) {
  EXPECT_EQ(f32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(70000.0f), 0x7c00);           // overflow -> inf
  EXPECT_EQ(f32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // halfway, even stays
  EXPECT_EQ(f32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);  // halfway, odd rounds up
  EXPECT_EQ(f32_to_fp16(5.960464477539063e-08f), 0x0001);  // smallest subnormal
  EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(std::nanf("")))));
  // Every finite half survives a round trip through f32.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(f32_to_fp16(fp16_to_f32(uint16_t(h))), h) << h;
  }
}

TEST(Dtype, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // halfway between 0x3f80 and 0x3f81: even
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);  // halfway between 0x3f81 and 0x3f82: even
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST(MappedFile, ErrorsNameThePath) {
  try {
    MappedFile f("/nonexistent/dir/file.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/file.gguf"), std::string::npos);
  }
  EXPECT_THROW(MappedFile("/"), Error);  // a directory
}

TEST(CpuFeatures, EnvironmentCapsTheIsa) {
  const Isa best = select_isa();
  setenv("TOKENMILL_ISA", "scalar", 1);
  EXPECT_EQ(select_isa(), Isa::Scalar);
  setenv("TOKENMILL_ISA", "sse9", 1);
  EXPECT_THROW(select_isa(), Error);
  // Every named ISA is accepted exactly when this CPU (and build) supports it.
  const CpuFeatures f = detect_cpu_features();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni, Isa::Amx, Isa::Neon}) {
    setenv("TOKENMILL_ISA", std::string(isa_name(isa)).c_str(), 1);
    if (isa_supported(isa, f)) {
      EXPECT_EQ(select_isa(), isa) << isa_name(isa);
    } else {
      EXPECT_THROW(select_isa(), Error) << isa_name(isa);
    }
  }
  unsetenv("TOKENMILL_ISA");
  EXPECT_EQ(select_isa(), best);
  EXPECT_EQ(best, best_isa(f));
}

}  // namespace
}  // namespace tokenmill
