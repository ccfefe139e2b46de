// Quantized matmul of the 32-element-block family on the active ISA with a 2-thread pool, against
// int8 activations (BM_Quant32Matmul) and f32 activations (BM_Quant32FloatActMatmul), at the
// shapes of a 1.1B llama-style model (d_model 2048, d_ff 5632):
//   decode: 1 token; the weights cycle through copies totalling ~1 GiB, so they stream from DRAM
//           (compare weight_bytes/s with BM_MemoryReadBandwidth);
//   prefill: 512 tokens (compare int8_ops/s = 2 * MACs / s with BM_VnniPeak).
// The two reference benchmarks measure this machine, both on 2 threads: a 1 GiB buffer summed
// with AVX-512 loads in 16 interleaved streams per thread, and a register-only loop of independent
// vpdpbusd (64 MACs each). Byte rates are in units of 2^30 bytes/s, op rates of 10^9 ops/s.
// GCC 12's AVX-512 headers warn about their own self-initialized "undefined" vectors (GCC bug
// 105593, fixed in GCC 13): silence only that here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <benchmark/benchmark.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kernels/machine_limits.h"
#include "kernels/repack.h"

namespace tokenmill::kernels {
namespace {

constexpr int kThreads = 2;
constexpr size_t kColdBytes = size_t(1) << 30;

// One [d_out, d_in] matrix of random codes with small f16 scales (and mins).
std::vector<uint8_t> make_quant_weights(DType type, size_t d_out, size_t d_in) {
  std::mt19937 rng(17);
  const size_t bs = dtype_block_bytes(type), n_blocks = d_out * d_in / 32;
  std::vector<uint8_t> w(n_blocks * bs);
  for (uint8_t& b : w) b = uint8_t(rng());
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint16_t d = f32_to_fp16(0.001f + 0.01f * float(rng() % 100) / 100.0f);
    std::memcpy(&w[b * bs], &d, 2);
    if (type == DType::Q4_1 || type == DType::Q5_1) {
      const uint16_t m = f32_to_fp16(-0.05f);
      std::memcpy(&w[b * bs + 2], &m, 2);
    }
  }
  return w;
}

// Args: dtype, d_in, d_out, n_tokens, cold (1: cycle through ~1 GiB of weight copies), repacked
// (1: the weights repacked in groups of 16 rows as the model loads them, kernels/repack.h).
void BM_Quant32Matmul(benchmark::State& state) {
  const DType file_type = DType(state.range(0));
  const bool repacked = state.range(5) != 0;
  const DType type = repacked ? repacked_dtype(file_type) : file_type;
  const size_t d_in = size_t(state.range(1)), d_out = size_t(state.range(2));
  const size_t n_tokens = size_t(state.range(3));
  const KernelTable& table = active_kernel_table();
  ThreadPool pool(kThreads);
  const std::vector<uint8_t> first = make_quant_weights(file_type, d_out, d_in);
  const size_t copies = state.range(4) != 0 ? kColdBytes / first.size() + 1 : 1;
  std::vector<AlignedBuffer> weights;
  for (size_t c = 0; c < copies; ++c) {
    if (repacked) {
      weights.push_back(repack_matrix(first.data(), file_type, d_out, d_in, pool));
    } else {
      weights.emplace_back(first.size());
      std::memcpy(weights.back().data(), first.data(), first.size());
    }
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(n_tokens * d_in), y(n_tokens * d_out);  // [n_tokens, d_in], [n_tokens, d_out]
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> scratch(matmul_scratch_bytes(type, n_tokens, d_in));
  size_t copy = 0;
  for (auto _ : state) {
    matmul(table, y.data(), x.data(), weights[copy].data(), type, nullptr, n_tokens, d_in, d_out, pool,
           scratch.data());
    benchmark::DoNotOptimize(y.data());
    copy = copy + 1 == copies ? 0 : copy + 1;
  }
  state.counters["weight_bytes/s"] = benchmark::Counter(
      double(first.size()), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1024);
  state.counters["int8_ops/s"] = benchmark::Counter(2.0 * double(n_tokens * d_in * d_out),
                                                    benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtype_name(type)) + " " + std::string(isa_name(table.isa)));
}

void Quant32Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"dtype", "d_in", "d_out", "tokens", "cold", "repacked"});
  for (DType type : {DType::Q4_1, DType::Q5_0, DType::Q5_1}) {
    const int64_t t = int64_t(type);
    b->Args({t, 2048, 5632, 1, 1, 0});
    b->Args({t, 2048, 2048, 512, 0, 0});
  }
  for (DType type : {DType::Q4_0, DType::Q8_0}) {
    const int64_t t = int64_t(type);
    for (int64_t repacked : {0, 1}) {
      b->Args({t, 2048, 5632, 1, 1, repacked});
      b->Args({t, 5632, 2048, 1, 1, repacked});
      b->Args({t, 2048, 5632, 1, 0, repacked});  // decode from L3
      b->Args({t, 2048, 512, 1, 0, repacked});   // decode from L2: the kernel's own speed
      b->Args({t, 2048, 5632, 512, 0, repacked});
      b->Args({t, 5632, 2048, 512, 0, repacked});
    }
  }
}
BENCHMARK(BM_Quant32Matmul)->Apply(Quant32Shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The float-activation matmul (kernels::matmul_float_act: f32 activations, weights dequantized in
// registers, file layout) next to the int8-activation matmul of the same weights as a model loads
// them (repacked where the ISA prefers it). Args: dtype, d_in, d_out, n_tokens, cold, threads (a
// pool of 1 runs on the calling thread: the kernel's own speed per core, least disturbed by other
// work on the machine), float_act (1: matmul_float_act, 0: matmul). flop/s = 2 * MACs / s. Run
// with --benchmark_repetitions=N for the least disturbed repetition: its time in the "min" row, its
// rates in the "max" row.
void BM_Quant32FloatActMatmul(benchmark::State& state) {
  const DType file_type = DType(state.range(0));
  const size_t d_in = size_t(state.range(1)), d_out = size_t(state.range(2));
  const size_t n_tokens = size_t(state.range(3));
  const bool float_act = state.range(6) != 0;
  const KernelTable& table = active_kernel_table();
  ThreadPool pool(int(state.range(5)));
  const bool repacked = !float_act && table.prefers_repacked && repack_supported(file_type, d_out, d_in);
  const DType type = repacked ? repacked_dtype(file_type) : file_type;
  const std::vector<uint8_t> first = make_quant_weights(file_type, d_out, d_in);
  const size_t copies = state.range(4) != 0 ? kColdBytes / first.size() + 1 : 1;
  std::vector<AlignedBuffer> weights;
  for (size_t c = 0; c < copies; ++c) {
    if (repacked) {
      weights.push_back(repack_matrix(first.data(), file_type, d_out, d_in, pool));
    } else {
      weights.emplace_back(first.size());
      std::memcpy(weights.back().data(), first.data(), first.size());
    }
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(n_tokens * d_in), y(n_tokens * d_out);  // [n_tokens, d_in], [n_tokens, d_out]
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> scratch(matmul_scratch_bytes(type, n_tokens, d_in));
  size_t copy = 0;
  for (auto _ : state) {
    if (float_act)
      matmul_float_act(table, y.data(), x.data(), weights[copy].data(), type, nullptr, n_tokens, d_in, d_out,
                       pool);
    else
      matmul(table, y.data(), x.data(), weights[copy].data(), type, nullptr, n_tokens, d_in, d_out, pool,
             scratch.data());
    benchmark::DoNotOptimize(y.data());
    copy = copy + 1 == copies ? 0 : copy + 1;
  }
  state.counters["weight_bytes/s"] = benchmark::Counter(
      double(first.size()), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1024);
  state.counters["flop/s"] = benchmark::Counter(2.0 * double(n_tokens * d_in * d_out),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtype_name(type)) + " " + std::string(isa_name(table.isa)) +
                 (float_act ? " f32 activations" : " int8 activations"));
}

void Quant32FloatActShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"dtype", "d_in", "d_out", "tokens", "cold", "threads", "float_act"});
  for (DType type : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q8_0}) {
    const int64_t t = int64_t(type);
    for (int64_t float_act : {1, 0}) {
      b->Args({t, 2048, 5632, 1, 1, kThreads, float_act});  // decode from DRAM
      b->Args({t, 2048, 512, 1, 0, 1, float_act});          // decode from L2 on one core
      b->Args({t, 2048, 2048, 512, 0, 1, float_act});       // prefill on one core
    }
  }
}
BENCHMARK(BM_Quant32FloatActMatmul)
    ->Apply(Quant32FloatActShapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond)
    ->ComputeStatistics("min",
                        [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
    ->ComputeStatistics("max",
                        [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });

#if defined(__x86_64__) || defined(_M_X64)
// Sums n bytes at p (a multiple of 64 * kStreams) as kStreams interleaved sequential streams, as
// the matmul reads its rows; one stream alone reaches less of the bandwidth.
constexpr size_t kStreams = 16;
__attribute__((target("avx512f"))) int64_t sum_streams(const uint8_t* p, size_t n) {
  const size_t part = n / kStreams;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0;
  for (size_t i = 0; i < part; i += 64) {
#pragma GCC unroll 16
    for (size_t s = 0; s < kStreams; s += 2) {
      a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + s * part + i));
      a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + (s + 1) * part + i));
    }
  }
  return _mm512_reduce_add_epi64(_mm512_add_epi64(a0, a1));
}

// Memory read bandwidth: a 1 GiB buffer summed by 2 threads, half each.
void BM_MemoryReadBandwidth(benchmark::State& state) {
  if (!detect_cpu_features().avx512) {
    state.SkipWithError("CPU lacks AVX-512");
    return;
  }
  ThreadPool pool(kThreads);
  std::vector<uint8_t> buf(kColdBytes + 64, 1);
  const uint8_t* base = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  std::vector<int64_t> sums(kThreads);
  for (auto _ : state) {
    pool.parallel_for(kThreads, [&](size_t, size_t, int thread) {
      sums[size_t(thread)] =
          sum_streams(base + size_t(thread) * (kColdBytes / kThreads), kColdBytes / kThreads);
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["bytes/s"] = benchmark::Counter(
      double(kColdBytes), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1024);
}
BENCHMARK(BM_MemoryReadBandwidth)->UseRealTime()->Unit(benchmark::kMillisecond);

// int8 peak from the project's own probe (kernels/machine_limits.h, as `tokenmill bench` reports
// it): register-only vpdpbusd chains on 2 threads, ops = 2 per MAC.
void BM_VnniPeak(benchmark::State& state) {
  MachineLimitsOptions options;
  options.measure_bandwidth = false;
  for (auto _ : state) {
    const MachineLimits limits = measure_machine_limits(kThreads, options);
    state.counters["int8_ops/s"] = limits.int8_gops * 1e9;
    state.SetLabel(limits.int8_instruction);
  }
}
BENCHMARK(BM_VnniPeak)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
#endif

}  // namespace
}  // namespace tokenmill::kernels
