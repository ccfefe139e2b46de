#include "kernels/machine_limits.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/machine_limits_probes.h"

namespace tokenmill::kernels {

// Portable probes for CPUs without a SIMD variant: scalar loops the compiler may vectorize as it
// can for the baseline target.
namespace ref {
namespace {

float read_sum(const float* data, size_t n) {
  float s[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; ++j) s[j] += data[i + j];
  float total = 0;
  for (float v : s) total += v;
  for (; i < n; ++i) total += data[i];
  return total;
}

constexpr int kFmaChains = 16;

// A multiply and an add per lane (the baseline x86-64 target has no fused FMA; std::fma would
// call into libm): counted as 2 flops like an FMA.
float f32_fma(uint64_t iterations) {
  const float x = 1.0f / 1024, y = 1.0f / 1024;
  float a[kFmaChains];
  for (int c = 0; c < kFmaChains; ++c) a[c] = float(c);
  for (uint64_t it = 0; it < iterations; ++it)
    for (int c = 0; c < kFmaChains; ++c) a[c] += x * y;
  float total = 0;
  for (float v : a) total += v;
  return total;
}

constexpr int kInt8Chains = 8;

int64_t int8_dot(uint64_t iterations) {
  int32_t a = 1;  // an int8 value widened, as a scalar int8 dot product does
  const int32_t b = 1;
  int32_t c[kInt8Chains];
  // Chain k starts at k: identical chains would be merged into one by the compiler.
  for (int k = 0; k < kInt8Chains; ++k) c[k] = k;
  for (uint64_t it = 0; it < iterations; ++it) {
    for (int k = 0; k < kInt8Chains; ++k) c[k] += a * b;
#if defined(__GNUC__)
    // Keeps the compiler from folding the loop into iterations * a * b; emits no instruction.
    asm volatile("" : "+r"(a));
#endif
  }
  int64_t total = -int64_t(kInt8Chains * (kInt8Chains - 1) / 2);  // the chains' start values
  for (int32_t v : c) total += v;
  return total;
}

}  // namespace

LimitProbes limit_probes() {
  return LimitProbes{
      "scalar", read_sum, f32_fma, double(kFmaChains * 2), int8_dot, double(kInt8Chains), "scalar imul+add"};
}

}  // namespace ref

namespace {

LimitProbes probes_for(Isa isa) {
  check(isa_supported(isa, detect_cpu_features()),
        "machine limits: this CPU lacks " + std::string(isa_name(isa)));
  switch (isa) {
    case Isa::Scalar:
      return ref::limit_probes();
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::Avx2:
      return avx2::limit_probes();
    case Isa::Avx512:
      return avx512::limit_probes();
    case Isa::Avx512Vnni:
    case Isa::Amx:  // the int8 peak stays vpdpbusd's (the tile unit's is reported apart)
      return avx512vnni::limit_probes();
#endif
#if defined(__aarch64__)
    case Isa::Neon:
      return neon::limit_probes();
#endif
    default:
      break;
  }
  throw Error("machine limits: this build has no " + std::string(isa_name(isa)) + " probes");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

// Streams a buffer of options.read_buffer_bytes, split into one contiguous range per thread.
// Returns the best of options.passes in 1e9 bytes/s.
double measure_read_bandwidth(const LimitProbes& probes, ThreadPool& pool,
                              const MachineLimitsOptions& options) {
  constexpr size_t kAlignFloats = 16;  // 64-byte ranges: every thread starts on a cache line
  const size_t threads = size_t(pool.size());
  const size_t per_thread =
      std::max<size_t>(kAlignFloats, options.read_buffer_bytes / sizeof(float) / threads / kAlignFloats *
                                         kAlignFloats);  // floats
  const size_t n_floats = per_thread * threads;
  std::unique_ptr<float, FreeDeleter> buffer(
      static_cast<float*>(std::aligned_alloc(64, n_floats * sizeof(float))));
  check(buffer != nullptr, "machine limits: cannot allocate " + std::to_string(n_floats * sizeof(float)) +
                               " bytes for the bandwidth probe");
  float* data = buffer.get();
  // First touch from the thread that later reads the range (page placement on NUMA machines).
  pool.parallel_for(threads, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) std::fill(data + t * per_thread, data + (t + 1) * per_thread, 1.0f);
  });
  std::vector<float> sums(threads);  // one per thread; kept so the reads have a use
  double best_s = 0;
  for (int pass = 0; pass < std::max(1, options.passes); ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(threads, [&](size_t begin, size_t end, int) {
      for (size_t t = begin; t < end; ++t) sums[t] = probes.read_sum(data + t * per_thread, per_thread);
    });
    const double s = seconds_since(start);
    if (pass == 0 || s < best_s) best_s = s;
  }
  volatile float sink = 0;
  for (float v : sums) sink = sink + v;
  return double(n_floats * sizeof(float)) / best_s / 1e9;
}

// Runs `loop` (a probe taking an iteration count and returning its checksum) on every thread of
// the pool for about options.compute_pass_seconds, best of options.passes. Returns iterations per
// second, all threads together.
template <class Loop>
double measure_loop_rate(Loop loop, ThreadPool& pool, const MachineLimitsOptions& options) {
  // Calibrate on the calling thread (this also wakes the vector units up to full width).
  uint64_t iterations = 1024;
  double s = 0;
  double checksum = 0;  // kept so no probe call is without a use
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    checksum += double(loop(iterations));
    s = seconds_since(start);
    if (s >= 0.005 || iterations >= (uint64_t(1) << 40)) break;
    iterations *= 4;
  }
  iterations =
      std::max<uint64_t>(1, uint64_t(double(iterations) * options.compute_pass_seconds / std::max(s, 1e-9)));
  const size_t threads = size_t(pool.size());
  std::vector<double> checksums(threads);  // one per thread
  double best_s = 0;
  for (int pass = 0; pass < std::max(1, options.passes); ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(threads, [&](size_t begin, size_t end, int) {
      for (size_t t = begin; t < end; ++t) checksums[t] += double(loop(iterations));
    });
    const double pass_s = seconds_since(start);
    if (pass == 0 || pass_s < best_s) best_s = pass_s;
  }
  volatile double sink = checksum;
  for (double v : checksums) sink = sink + v;
  return double(iterations) * double(threads) / best_s;
}

}  // namespace

MachineLimits measure_machine_limits(Isa isa, int threads, const MachineLimitsOptions& options) {
  const LimitProbes probes = probes_for(isa);
  ThreadPool pool(threads);
  MachineLimits r;
  r.isa = probes.isa;
  r.threads = pool.size();
  r.int8_instruction = probes.int8_instruction;
  if (options.measure_bandwidth) r.read_bw_gbs = measure_read_bandwidth(probes, pool, options);
  if (options.measure_compute) {
    const double fma_rate = measure_loop_rate(probes.f32_fma, pool, options);
    r.f32_gflops = fma_rate * probes.f32_flops_per_iteration / 1e9;
    const double dot_rate = measure_loop_rate(probes.int8_dot, pool, options);
    r.int8_gops = dot_rate * probes.int8_macs_per_iteration * 2 / 1e9;
  }
  return r;
}

MachineLimits measure_machine_limits(int threads, const MachineLimitsOptions& options) {
  return measure_machine_limits(select_isa(), threads, options);
}

}  // namespace tokenmill::kernels
