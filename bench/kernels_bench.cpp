// Kernel microbenchmarks at the shapes of a 1.1B llama-style model (d_model 2048, d_ff 5632).
// Counters: bytes_per_second counts the weights plus activations read and written once per call,
// flop/s counts 2 * n_tokens * d_in * d_out. "Cold" variants cycle through enough copies of the
// weights to exceed the last-level cache, as a real decode step over all layers does.
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

namespace tokenmill::kernels {
namespace {

// Weight storage for one [d_out, d_in] matrix in dtype, filled with small random values.
std::vector<uint8_t> make_weights(DType dtype, size_t d_out, size_t d_in, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  const size_t n = d_out * d_in;
  std::vector<uint8_t> bytes(n * dtype_size_bytes(dtype));
  for (size_t i = 0; i < n; ++i) {
    const float v = dist(rng);
    if (dtype == DType::F32) {
      std::memcpy(&bytes[i * 4], &v, 4);
    } else {
      const uint16_t h = dtype == DType::F16 ? f32_to_fp16(v) : f32_to_bf16(v);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

bool isa_available(Isa isa) {
  const CpuFeatures f = detect_cpu_features();
  return isa == Isa::Scalar || (isa == Isa::Avx2 && f.avx2) || (isa == Isa::Avx512 && f.avx512);
}

// Args: d_out, d_in, n_tokens, dtype, threads, isa, copies (weight copies cycled through).
void BM_Matmul(benchmark::State& state) {
  const size_t d_out = size_t(state.range(0)), d_in = size_t(state.range(1));
  const size_t n_tokens = size_t(state.range(2));
  const DType dtype = DType(state.range(3));
  const int threads = int(state.range(4));
  const Isa isa = Isa(state.range(5));
  const size_t copies = size_t(state.range(6));
  if (!isa_available(isa)) {
    state.SkipWithError("CPU lacks this ISA");
    return;
  }
  const KernelTable& table = kernel_table(isa);
  ThreadPool pool(threads);
  std::vector<std::vector<uint8_t>> weights;
  for (size_t c = 0; c < copies; ++c) weights.push_back(make_weights(dtype, d_out, d_in, uint32_t(c)));
  std::vector<float> x(n_tokens * d_in, 0.5f), y(n_tokens * d_out);  // [n_tokens, d_in], [n_tokens, d_out]
  size_t copy = 0;
  for (auto _ : state) {
    matmul(table, y.data(), x.data(), weights[copy].data(), dtype, nullptr, n_tokens, d_in, d_out, pool);
    benchmark::DoNotOptimize(y.data());
    copy = copy + 1 == copies ? 0 : copy + 1;
  }
  const double bytes = double(d_out * d_in * dtype_size_bytes(dtype)) +
                       double(n_tokens * (d_in + d_out) * sizeof(float));
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                                          benchmark::Counter::kIs1024);
  state.counters["flop/s"] = benchmark::Counter(2.0 * double(n_tokens * d_in * d_out),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtype_name(dtype)) + " " + std::string(isa_name(isa)));
}

constexpr int64_t kF32 = int64_t(DType::F32), kF16 = int64_t(DType::F16), kBF16 = int64_t(DType::BF16);
constexpr int64_t kScalar = int64_t(Isa::Scalar), kAvx2 = int64_t(Isa::Avx2), kAvx512 = int64_t(Isa::Avx512);

void MatmulShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"d_out", "d_in", "tokens", "dtype", "threads", "isa", "copies"});
  const std::pair<int64_t, int64_t> shapes[] = {{2048, 2048}, {5632, 2048}, {2048, 5632}};
  for (auto [d_out, d_in] : shapes)
    for (int64_t dtype : {kF16, kF32})
      for (int64_t tokens : {1, 64})
        for (int64_t threads : {1, 2}) b->Args({d_out, d_in, tokens, dtype, threads, kAvx512, 1});
  // ISA and dtype comparison at decode on the down projection.
  for (int64_t isa : {kScalar, kAvx2, kAvx512})
    for (int64_t threads : {1, 2}) b->Args({2048, 5632, 1, kF16, threads, isa, 1});
  for (int64_t threads : {1, 2}) b->Args({2048, 5632, 1, kBF16, threads, kAvx512, 1});
  for (int64_t threads : {1, 2}) b->Args({2048, 5632, 64, kF16, threads, kAvx2, 1});
  // Cold weights: 32 copies of 23 MB (F16) exceed any last-level cache.
  for (int64_t threads : {1, 2}) b->Args({2048, 5632, 1, kF16, threads, kAvx512, 32});
}
BENCHMARK(BM_Matmul)->Apply(MatmulShapes)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Args: n_kv (context length), threads. 32 query heads, 4 kv heads, head_dim 64, one decode query.
void BM_AttentionDecode(benchmark::State& state) {
  const size_t n_kv = size_t(state.range(0)), n_heads = 32, n_kv_heads = 4, head_dim = 64;
  ThreadPool pool(int(state.range(1)));
  const size_t stride = n_kv_heads * head_dim;
  std::vector<float> k(n_kv * stride, 0.01f), v(n_kv * stride, 0.02f);  // [n_kv, stride]
  std::vector<float> q(n_heads * head_dim, 0.1f), out(n_heads * head_dim);
  std::vector<int32_t> slots(n_kv);
  for (size_t p = 0; p < n_kv; ++p) slots[p] = int32_t(p);
  const int32_t q_pos = int32_t(n_kv - 1);
  for (auto _ : state) {
    attention(active_kernel_table(), out.data(), q.data(), &q_pos, 1, k.data(), v.data(), stride,
              slots.data(), n_kv, n_heads, n_kv_heads, head_dim, 0.125f, 0, pool);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes_per_second"] = benchmark::Counter(
      double(2 * n_kv * stride * sizeof(float)), benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1024);
}
BENCHMARK(BM_AttentionDecode)->ArgNames({"n_kv", "threads"})->ArgsProduct({{512, 4096}, {1, 2}})
    ->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tokenmill::kernels

