// K-quant matmul benchmarks at the shapes of a 1.1B llama-style model (d_model 2048, d_ff 5632).
// The machine limits they are judged against are BM_MemoryReadBandwidth and BM_VnniPeak
// (quant32_bench.cpp) and `tokenmill bench` (kernels/machine_limits.h).
// Decode (1 token) cycles through enough weight copies (>= 256 MiB) that every call streams its
// weights from memory; prefill (512 tokens) reuses one copy. Counters: bytes_per_second counts
// weight bytes plus f32 activations in and out once per call; ops_per_second counts
// 2 * n_tokens * d_in * d_out (one multiply and one add per weight and token). Both are decimal
// (1e9 = G).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>


#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"

namespace tokenmill::kernels {
namespace {

constexpr size_t kColdWeightBytes = size_t(256) << 20;

// Byte offsets of the f16 d (and dmin, or 0 when none) fields of a K-quant block.
void scale_offsets(DType dtype, size_t& d, size_t& dmin) {
  switch (dtype) {
    case DType::Q2_K:
      d = offsetof(BlockQ2_K, d), dmin = offsetof(BlockQ2_K, dmin);
      return;
    case DType::Q3_K:
      d = offsetof(BlockQ3_K, d), dmin = 0;
      return;
    case DType::Q4_K:
      d = offsetof(BlockQ4_K, d), dmin = offsetof(BlockQ4_K, dmin);
      return;
    case DType::Q5_K:
      d = offsetof(BlockQ5_K, d), dmin = offsetof(BlockQ5_K, dmin);
      return;
    default:
      d = offsetof(BlockQ6_K, d), dmin = 0;
      return;
  }
}

// One [d_out, d_in] matrix of random blocks with realistic f16 scales.
std::vector<uint8_t> make_weights(DType dtype, size_t d_out, size_t d_in) {
  std::mt19937 rng(1);
  const size_t block_bytes = dtype_block_bytes(dtype), n_blocks = d_out * d_in / kQKK;
  std::vector<uint8_t> bytes(n_blocks * block_bytes);
  for (uint8_t& b : bytes) b = uint8_t(rng());
  size_t d_off = 0, dmin_off = 0;
  scale_offsets(dtype, d_off, dmin_off);
  const uint16_t d = f32_to_fp16(0.002f), dmin = f32_to_fp16(0.001f);
  for (size_t i = 0; i < n_blocks; ++i) {
    std::memcpy(&bytes[i * block_bytes + d_off], &d, 2);
    if (dmin_off != 0) std::memcpy(&bytes[i * block_bytes + dmin_off], &dmin, 2);
  }
  return bytes;
}

// Args: dtype, d_out, d_in, n_tokens, threads, isa, cold (1: cycle weight copies).
void BM_QuantKMatmul(benchmark::State& state) {
  const DType dtype = DType(state.range(0));
  const size_t d_out = size_t(state.range(1)), d_in = size_t(state.range(2));
  const size_t n_tokens = size_t(state.range(3));
  const int threads = int(state.range(4));
  const Isa isa = Isa(state.range(5));
  if (!isa_supported(isa, detect_cpu_features())) {
    state.SkipWithError("CPU lacks this ISA");
    return;
  }
  const KernelTable& table = kernel_table(isa);
  ThreadPool pool(threads);
  const std::vector<uint8_t> first = make_weights(dtype, d_out, d_in);
  const size_t copies = state.range(6) != 0 ? (kColdWeightBytes + first.size() - 1) / first.size() : 1;
  std::vector<std::vector<uint8_t>> weights(copies, first);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n_tokens * d_in), y(n_tokens * d_out);  // [n_tokens, d_in], [n_tokens, d_out]
  for (float& v : x) v = dist(rng);
  std::vector<std::byte> scratch(matmul_scratch_bytes(dtype, n_tokens, d_in));
  size_t copy = 0;
  for (auto _ : state) {
    matmul(table, y.data(), x.data(), weights[copy].data(), dtype, nullptr, n_tokens, d_in, d_out, pool,
           scratch.data());
    benchmark::DoNotOptimize(y.data());
    copy = copy + 1 == copies ? 0 : copy + 1;
  }
  const double bytes = double(first.size()) + double(n_tokens * (d_in + d_out) * sizeof(float));
  state.counters["bytes_per_second"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ops_per_second"] = benchmark::Counter(2.0 * double(n_tokens * d_in * d_out),
                                                        benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtype_name(dtype)) + " " + std::string(isa_name(isa)));
}

constexpr int64_t kScalar = int64_t(Isa::Scalar), kAvx2 = int64_t(Isa::Avx2), kAvx512 = int64_t(Isa::Avx512),
                  kAvx512Vnni = int64_t(Isa::Avx512Vnni);

void QuantKShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"dtype", "d_out", "d_in", "tokens", "threads", "isa", "cold"});
  const int64_t active = int64_t(select_isa());
  for (DType t : {DType::Q4_K, DType::Q6_K, DType::Q5_K, DType::Q3_K, DType::Q2_K}) {
    const int64_t dtype = int64_t(t);
    b->Args({dtype, 2048, 5632, 1, 2, active, 1});
    b->Args({dtype, 5632, 2048, 1, 2, active, 1});
    b->Args({dtype, 2048, 2048, 512, 2, active, 0});
  }
  // ISA comparison on Q4_K, and one thread.
  const int64_t q4k = int64_t(DType::Q4_K);
  for (int64_t isa : {kScalar, kAvx2, kAvx512, kAvx512Vnni}) {
    if (isa == active) continue;
    b->Args({q4k, 2048, 5632, 1, 2, isa, 1});
    if (isa != kScalar) b->Args({q4k, 2048, 2048, 512, 2, isa, 0});
  }
  b->Args({q4k, 2048, 5632, 1, 1, active, 1});
  b->Args({q4k, 2048, 2048, 512, 1, active, 0});
}
BENCHMARK(BM_QuantKMatmul)->Apply(QuantKShapes)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tokenmill::kernels
