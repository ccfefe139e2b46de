// Microbenchmarks of the non-matmul kernels of a forward pass at the active ISA (the label names
// it), at the shapes of a 1.1B llama-style model (dim 2048, ffn 5632, 32 heads, 4 kv heads,
// head_dim 64, vocab 32000).
//
// Counters (per call, turned into rates):
//   bytes_per_second  f32 activations read plus written once (and K/V rows read, for attention);
//   flop/s            rmsnorm: 4 per element (square, add, two multiplies); attention: 4 per
//                     (head, key, head_dim element): one multiply-add for q.k, one for p.v;
//   items_per_second  elements (rmsnorm, swiglu, softmax), rotated pairs (rope), query heads x
//                     keys attended (attention).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kernels/ops.h"

namespace tokenmill::kernels {
namespace {

constexpr size_t kDim = 2048, kFfn = 5632, kHeads = 32, kKvHeads = 4, kHeadDim = 64;

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::string active_isa_label() {
  return std::string(isa_name(active_kernel_table().isa));
}

void set_bytes(benchmark::State& state, double bytes_per_call) {
  state.counters["bytes_per_second"] = benchmark::Counter(
      bytes_per_call, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1024);
}
void set_flops(benchmark::State& state, double flops_per_call) {
  state.counters["flop/s"] =
      benchmark::Counter(flops_per_call, benchmark::Counter::kIsIterationInvariantRate);
}

// Args: rows (tokens). x, out: [rows, kDim], weight: [kDim].
void BM_Rmsnorm(benchmark::State& state) {
  const size_t rows = size_t(state.range(0));
  const KernelTable& k = active_kernel_table();
  const std::vector<float> x = random_floats(rows * kDim, 1), weight = random_floats(kDim, 2, 0.5f, 1.5f);
  std::vector<float> out(rows * kDim);
  for (auto _ : state) {
    rmsnorm(k, out.data(), x.data(), weight.data(), rows, kDim, 1e-5f);
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, double((2 * rows * kDim + kDim) * sizeof(float)));
  set_flops(state, 4.0 * double(rows * kDim));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(rows * kDim));
  state.SetLabel(active_isa_label());
}
BENCHMARK(BM_Rmsnorm)->ArgName("rows")->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond);

// Args: rows (tokens). gate, up: [rows, kFfn]. The kernel overwrites gate, and repeated calls on
// its own output would drift into denormals, so gate is restored before each call and only the
// kernel is timed (manual time).
void BM_Swiglu(benchmark::State& state) {
  const size_t n = size_t(state.range(0)) * kFfn;
  const KernelTable& k = active_kernel_table();
  const std::vector<float> gate_init = random_floats(n, 3), up = random_floats(n, 4);
  std::vector<float> gate(n);
  for (auto _ : state) {
    std::copy(gate_init.begin(), gate_init.end(), gate.begin());
    const auto start = std::chrono::steady_clock::now();
    swiglu(k, gate.data(), up.data(), n);
    benchmark::DoNotOptimize(gate.data());
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  set_bytes(state, double(3 * n * sizeof(float)));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
  state.SetLabel(active_isa_label());
}
BENCHMARK(BM_Swiglu)->ArgName("rows")->Arg(1)->Arg(64)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Args: n (row length: attention scores or vocab). x: [n], softmaxed in place each call (a
// softmax of a softmax stays a valid input).
void BM_Softmax(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  const KernelTable& k = active_kernel_table();
  std::vector<float> x = random_floats(n, 5, -8.0f, 8.0f);
  for (auto _ : state) {
    softmax(k, x.data(), n);
    benchmark::DoNotOptimize(x.data());
  }
  set_bytes(state, double(2 * n * sizeof(float)));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
  state.SetLabel(active_isa_label());
}
BENCHMARK(BM_Softmax)->ArgName("n")->Arg(512)->Arg(2048)->Arg(32000)->Unit(benchmark::kMicrosecond);

// Args: tokens. x: [tokens, kHeads + kKvHeads, kHeadDim] (q and k heads of a step), full rotation.
// Rope has one (scalar) implementation for every ISA.
void BM_Rope(benchmark::State& state) {
  const size_t tokens = size_t(state.range(0)), heads = kHeads + kKvHeads;
  std::vector<float> x = random_floats(tokens * heads * kHeadDim, 6);
  std::vector<int32_t> positions(tokens);
  for (size_t t = 0; t < tokens; ++t) positions[t] = int32_t(100 + t);
  std::vector<float> inv_freq(kHeadDim / 2);  // [head_dim / 2]
  for (size_t i = 0; i < inv_freq.size(); ++i)
    inv_freq[i] = std::pow(10000.0f, -2.0f * float(i) / float(kHeadDim));
  for (auto _ : state) {
    rope(x.data(), positions.data(), inv_freq.data(), tokens, heads, kHeadDim, kHeadDim,
         RopeStyle::NeoxHalves);
    benchmark::DoNotOptimize(x.data());
  }
  set_bytes(state, double(2 * x.size() * sizeof(float)));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(x.size() / 2));
  state.SetLabel("scalar");
}
BENCHMARK(BM_Rope)->ArgName("tokens")->Arg(1)->Arg(128)->Unit(benchmark::kMicrosecond);

// Args: n_q (queries, at the last n_q positions of the context), n_kv (context length),
// threads. K/V caches: [n_kv, kKvHeads * kHeadDim] f32, identity slots; q, out:
// [n_q, kHeads, kHeadDim]. A query at position p attends to p + 1 keys (causal).
void BM_Attention(benchmark::State& state) {
  const size_t n_q = size_t(state.range(0)), n_kv = size_t(state.range(1));
  ThreadPool pool(int(state.range(2)));
  const KernelTable& k = active_kernel_table();
  const size_t stride = kKvHeads * kHeadDim;
  const std::vector<float> k_cache = random_floats(n_kv * stride, 7),
                           v_cache = random_floats(n_kv * stride, 8);
  const std::vector<float> q = random_floats(n_q * kHeads * kHeadDim, 9);
  std::vector<float> out(q.size());
  std::vector<int32_t> slots(n_kv), q_pos(n_q);
  for (size_t p = 0; p < n_kv; ++p) slots[p] = int32_t(p);
  double keys_attended = 0;  // summed over queries
  for (size_t i = 0; i < n_q; ++i) {
    q_pos[i] = int32_t(n_kv - n_q + i);
    keys_attended += double(q_pos[i] + 1);
  }
  const float scale = 1.0f / std::sqrt(float(kHeadDim));
  for (auto _ : state) {
    attention(k, out.data(), q.data(), q_pos.data(), n_q, k_cache.data(), v_cache.data(), stride,
              slots.data(), n_kv, kHeads, kKvHeads, kHeadDim, scale, 0, pool);
    benchmark::DoNotOptimize(out.data());
  }
  // K/V rows read once per kv head group, q read and out written once.
  set_bytes(state, double((2 * n_kv * stride + 2 * q.size()) * sizeof(float)));
  set_flops(state, 4.0 * keys_attended * double(kHeads * kHeadDim));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(keys_attended * double(kHeads)));
  state.SetLabel(active_isa_label() + (n_q == 1 ? " decode" : " prefill"));
}
BENCHMARK(BM_Attention)
    ->ArgNames({"n_q", "n_kv", "threads"})
    ->Args({1, 512, 1})
    ->Args({1, 512, 2})
    ->Args({1, 2048, 1})
    ->Args({1, 2048, 2})
    ->Args({128, 128, 1})
    ->Args({128, 128, 2})
    ->Args({128, 2048, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tokenmill::kernels
