// Bottleneck diagnosis of bench results, on synthetic measurements with known ratios.
#include <gtest/gtest.h>

#include "engine/bench_diagnosis.h"

namespace tokenmill {
namespace {

ModelBenchResult result(bool float_weights, double tg_bytes_per_s, double pp_ops_per_s) {
  ModelBenchResult r;
  r.limits = kernels::MachineLimits{20.0, 400.0, 1600.0, "vpdpbusd", "avx512vnni", 2};
  r.work.float_weights = float_weights;
  r.work.size_bytes = 1'000'000'000;
  r.work.layer_matmul_params = 450'000'000;
  r.work.lm_head_params = 50'000'000;
  r.activations.int8_matrices = float_weights ? 0 : 155;
  BenchTestResult pp{"pp512", true, 512, {}, {}, {pp_ops_per_s / 9e8, 0}, pp_ops_per_s};
  BenchTestResult tg{"tg128", false, 128, {}, {}, {tg_bytes_per_s / 1e9, 0}, tg_bytes_per_s};
  r.tests = {pp, tg};
  return r;
}

TEST(BenchDiagnosis, MemoryBoundDecodeAndComputeBoundPrefill) {
  const auto d = diagnose_bench(result(true, 18e9, 300e9));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].phase, "prefill");
  EXPECT_EQ(d[0].bound, Bound::Compute);
  EXPECT_DOUBLE_EQ(d[0].compute_fraction, 0.75);  // of the f32 peak: float weights
  EXPECT_NE(d[0].advice.find("quantize the weights"), std::string::npos);
  EXPECT_EQ(d[1].phase, "decode");
  EXPECT_EQ(d[1].bound, Bound::Memory);
  EXPECT_DOUBLE_EQ(d[1].bandwidth_fraction, 0.9);
  EXPECT_NE(d[1].advice.find("memory-bound at 90% of read bandwidth"), std::string::npos);
  EXPECT_NE(d[1].advice.find("batch more requests"), std::string::npos);
}

TEST(BenchDiagnosis, QuantizedPrefillUsesTheInt8PeakAndSlowPhasesAreOverhead) {
  const auto d = diagnose_bench(result(false, 2e9, 160e9));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].peak_name, "int8");
  EXPECT_DOUBLE_EQ(d[0].compute_fraction, 0.1);
  EXPECT_EQ(d[0].bound, Bound::Overhead);
  EXPECT_EQ(d[1].bound, Bound::Overhead);  // 10% of bandwidth
  EXPECT_NE(d[1].advice.find("overhead-bound"), std::string::npos);
}

TEST(BenchDiagnosis, ProfileAttributesTimeToOps) {
  ModelBenchResult r = result(true, 18e9, 300e9);
  r.work.decode_bytes_by_op[size_t(OpKind::MatmulGateUp)] = 0.5e9;
  BenchProfile p;
  p.tokens = 10;
  p.wall_seconds = 1.0;
  p.ops.seconds[size_t(OpKind::MatmulGateUp)] = 0.5;  // 10 x 0.5 GB in 0.5 s = 10 GB/s = 50% of 20
  p.ops.calls[size_t(OpKind::MatmulGateUp)] = 10;
  p.ops.seconds[size_t(OpKind::Norm)] = 0.2;
  p.ops.calls[size_t(OpKind::Norm)] = 20;
  r.profile = p;
  const auto d = diagnose_bench(r);
  const PhaseDiagnosis& decode = d[1];
  ASSERT_EQ(decode.ops.size(), 2u);
  EXPECT_EQ(decode.ops[0].op, "matmul_gate_up");
  EXPECT_DOUBLE_EQ(decode.ops[0].roof_fraction, 0.5);
  EXPECT_EQ(decode.ops[0].bound, "memory");
  EXPECT_EQ(decode.ops[1].bound, "overhead");
  EXPECT_DOUBLE_EQ(decode.overhead_share, 0.5);  // all but the 0.5 s matmul
  EXPECT_NE(format_diagnosis(d).find("matmul_gate_up: 50% of the time, memory (50% of bandwidth)"), std::string::npos);
}

TEST(BenchDiagnosis, NothingWithoutLimits) {
  ModelBenchResult r = result(true, 18e9, 300e9);
  r.limits.reset();
  EXPECT_TRUE(diagnose_bench(r).empty());
}

}  // namespace
}  // namespace tokenmill
