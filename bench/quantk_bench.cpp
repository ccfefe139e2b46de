// K-quant matmul benchmarks at the shapes of a 1.1B llama-style model (d_model 2048, d_ff 5632),
// with the two machine limits they are judged against:
//   BM_QuantKReadBandwidth  memory read bandwidth: a 1 GiB buffer summed with 512-bit loads by a pool;
//   BM_QuantKVnniPeak       int8 multiply-add peak: register-only vpdpbusd chains, no memory traffic.
// Decode (1 token) cycles through enough weight copies (>= 256 MiB) that every call streams its
// weights from memory; prefill (512 tokens) reuses one copy. Counters: bytes_per_second counts
// weight bytes plus f32 activations in and out once per call; ops_per_second counts
// 2 * n_tokens * d_in * d_out (one multiply and one add per weight and token). Both are decimal
// (1e9 = G) so they compare directly with BM_QuantKReadBandwidth and BM_QuantKVnniPeak.
// GCC 12's AVX-512 headers build some results from a self-initialized "undefined" vector and then
// warn about it at every inlined use (GCC bug 105593, fixed in GCC 13): silence only that here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

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

#if defined(__x86_64__) || defined(_M_X64)
// Sum of n bytes (n a multiple of 256) as u64 lanes, 4 independent accumulators.
__attribute__((target("avx512f"))) uint64_t sum_bytes(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
  }
  return uint64_t(
      _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3))));
}

// Args: threads. Each thread sums a contiguous 1/threads of a 1 GiB buffer.
void BM_QuantKReadBandwidth(benchmark::State& state) {
  if (!detect_cpu_features().avx512) {
    state.SkipWithError("needs AVX-512");
    return;
  }
  const size_t n = size_t(1) << 30;
  const int threads = int(state.range(0));
  std::vector<uint8_t> buf(n, 1);
  ThreadPool pool(threads);
  const size_t part = n / size_t(threads) / 256 * 256;
  for (auto _ : state) {
    std::vector<uint64_t> sums(static_cast<size_t>(threads));
    pool.parallel_for(size_t(threads), [&](size_t begin, size_t end, int) {
      for (size_t i = begin; i < end; ++i) sums[i] = sum_bytes(buf.data() + i * part, part);
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["bytes_per_second"] =
      benchmark::Counter(double(part * size_t(threads)), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_QuantKReadBandwidth)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

constexpr size_t kPeakChains = 12;  // independent accumulators: > latency x issue width
constexpr size_t kPeakIters = size_t(1) << 22;

// kPeakIters x kPeakChains vpdpbusd on registers only (64 multiply-adds each).
__attribute__((target("avx512f,avx512vnni"))) int dpbusd_chains() {
  __m512i acc[kPeakChains];
  for (size_t i = 0; i < kPeakChains; ++i) acc[i] = _mm512_set1_epi32(int(i));
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  for (size_t it = 0; it < kPeakIters; ++it) {
#pragma GCC unroll 12
    for (size_t i = 0; i < kPeakChains; ++i) {
      acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
      asm volatile("" : "+v"(acc[i]));  // keep every chain live and in a register
    }
  }
  __m512i s = acc[0];
  for (size_t i = 1; i < kPeakChains; ++i) s = _mm512_add_epi32(s, acc[i]);
  return _mm512_reduce_add_epi32(s);
}

// Args: threads.
void BM_QuantKVnniPeak(benchmark::State& state) {
  if (!detect_cpu_features().avx512_vnni) {
    state.SkipWithError("needs AVX-512 VNNI");
    return;
  }
  const int threads = int(state.range(0));
  ThreadPool pool(threads);
  for (auto _ : state) {
    std::vector<int> out(static_cast<size_t>(threads));
    pool.parallel_for(size_t(threads), [&](size_t begin, size_t end, int) {
      for (size_t i = begin; i < end; ++i) out[i] = dpbusd_chains();
    });
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["ops_per_second"] = benchmark::Counter(2.0 * 64 * double(kPeakChains * kPeakIters) * threads,
                                                        benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_QuantKVnniPeak)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
#endif

}  // namespace
}  // namespace tokenmill::kernels
