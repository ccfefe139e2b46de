// The inner loops of machine_limits.cpp, one set per ISA (machine_limits_<isa>.cpp, compiled with
// that ISA's flags). Each compute loop keeps its accumulators in registers and runs enough
// independent chains to cover the instruction's latency on every port that executes it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tokenmill::kernels {

struct LimitProbes {
  const char* isa;
  // Sum of data[0, n). data: [n] f32, 64-byte aligned. Loads every element once, in order.
  float (*read_sum)(const float* data, size_t n);
  // Runs `iterations` rounds of f32_flops_per_iteration / 2 FMA lanes; returns a value that
  // depends on every accumulator (finite: each chain converges).
  float (*f32_fma)(uint64_t iterations);
  double f32_flops_per_iteration;
  // Runs `iterations` rounds of int8_macs_per_iteration multiply-accumulates of 1 * 1 and
  // returns their exact total, iterations * int8_macs_per_iteration (a check that every MAC ran).
  int64_t (*int8_dot)(uint64_t iterations);
  double int8_macs_per_iteration;
  const char* int8_instruction;
};

namespace ref {
LimitProbes limit_probes();
}
#if defined(__x86_64__) || defined(_M_X64)
namespace avx2 {
LimitProbes limit_probes();
}
namespace avx512 {
LimitProbes limit_probes();
}
namespace avx512vnni {
LimitProbes limit_probes();
}
#endif
#if defined(__aarch64__)
namespace neon {
LimitProbes limit_probes();
}
#endif

}  // namespace tokenmill::kernels
