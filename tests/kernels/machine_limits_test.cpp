// Machine-limit probes: every ISA's loops do the work they claim (the int8 loop's exact MAC count,
// the read loop's sum) and the measurement returns positive finite figures. No timing thresholds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/machine_limits.h"
#include "kernels/machine_limits_probes.h"

namespace tokenmill::kernels {
namespace {

std::vector<LimitProbes> available_probes() {
  const CpuFeatures f = detect_cpu_features();
  std::vector<LimitProbes> out{ref::limit_probes()};
#if defined(__x86_64__) || defined(_M_X64)
  if (f.avx2) out.push_back(avx2::limit_probes());
  if (f.avx512) out.push_back(avx512::limit_probes());
  if (f.avx512 && f.avx512_vnni) out.push_back(avx512vnni::limit_probes());
#endif
#if defined(__aarch64__)
  if (f.neon) out.push_back(neon::limit_probes());
#endif
  return out;
}

TEST(MachineLimitProbes, ReadSumMatchesScalarSumIncludingTails) {
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  for (const LimitProbes& p : available_probes()) {
    for (size_t n : {size_t(0), size_t(7), size_t(128), size_t(1000), size_t(4096 + 13)}) {
      std::unique_ptr<float, FreeDeleter> buf(
          static_cast<float*>(std::aligned_alloc(64, 4096 * 2 * sizeof(float))));
      double expect = 0;
      for (size_t i = 0; i < n; ++i) {
        buf.get()[i] = float(i % 17) * 0.25f;  // sums stay exact in f32
        expect += double(buf.get()[i]);
      }
      EXPECT_EQ(double(p.read_sum(buf.get(), n)), expect) << p.isa << " n=" << n;
    }
  }
}

TEST(MachineLimitProbes, Int8LoopRunsEveryMac) {
  for (const LimitProbes& p : available_probes()) {
    for (uint64_t iterations : {uint64_t(0), uint64_t(1), uint64_t(1000)}) {
      EXPECT_EQ(p.int8_dot(iterations), int64_t(double(iterations) * p.int8_macs_per_iteration))
          << p.isa << " " << p.int8_instruction;
    }
  }
}

TEST(MachineLimitProbes, FmaLoopIsFinite) {
  for (const LimitProbes& p : available_probes()) {
    const float v = p.f32_fma(10000);
    EXPECT_TRUE(std::isfinite(v)) << p.isa;
    EXPECT_GT(v, 0.0f) << p.isa;
    EXPECT_GT(p.f32_flops_per_iteration, 0.0);
  }
}

TEST(MachineLimits, SmallRunGivesPositiveFiniteFigures) {
  MachineLimitsOptions o;
  o.read_buffer_bytes = size_t(4) << 20;
  o.passes = 2;
  o.compute_pass_seconds = 0.005;
  const MachineLimits m = measure_machine_limits(2, o);
  for (double v : {m.read_bw_gbs, m.f32_gflops, m.int8_gops}) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GT(v, 0.0);
  }
  EXPECT_EQ(m.threads, 2);
  EXPECT_FALSE(m.isa.empty());
  EXPECT_FALSE(m.int8_instruction.empty());
}

TEST(MachineLimits, EveryAvailableIsaMeasures) {
  MachineLimitsOptions o;
  o.read_buffer_bytes = size_t(1) << 20;
  o.passes = 1;
  o.compute_pass_seconds = 0.002;
  const CpuFeatures f = detect_cpu_features();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni, Isa::Amx, Isa::Neon}) {
    if (!isa_supported(isa, f)) continue;
    const MachineLimits m = measure_machine_limits(isa, 1, o);
    // amx measures with avx512vnni's probes: its int8 peak is vpdpbusd's (docs/bench.md).
    EXPECT_EQ(m.isa, isa == Isa::Amx ? std::string_view("avx512vnni") : isa_name(isa));
    EXPECT_GT(m.read_bw_gbs, 0.0) << m.isa;
    EXPECT_GT(m.f32_gflops, 0.0) << m.isa;
    EXPECT_GT(m.int8_gops, 0.0) << m.isa;
  }
}

TEST(MachineLimits, SwitchedOffProbesReportZero) {
  MachineLimitsOptions o;
  o.measure_bandwidth = false;
  o.measure_compute = false;
  const MachineLimits m = measure_machine_limits(1, o);
  EXPECT_EQ(m.read_bw_gbs, 0.0);
  EXPECT_EQ(m.f32_gflops, 0.0);
  EXPECT_EQ(m.int8_gops, 0.0);
}

}  // namespace
}  // namespace tokenmill::kernels
