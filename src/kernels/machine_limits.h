// What this machine can do at most, measured in-process, so a benchmark can say how close the
// engine runs to the hardware: streaming read bandwidth from memory (the roof of decode, which
// reads every weight once per token) and peak f32 FMA and int8 dot-product throughput (the roofs
// of prefill with float and quantized weights). Each probe runs on `threads` threads of one pool
// and reports the best of a few passes; all three together take about a second.
#pragma once
#include <cstddef>
#include <string>

#include "core/cpu_features.h"

namespace tokenmill::kernels {

struct MachineLimits {
  double read_bw_gbs = 0;        // streaming read bandwidth, 1e9 bytes/s
  double f32_gflops = 0;         // f32 FMA throughput, 1e9 flop/s (an FMA lane is 2 flops)
  double int8_gops = 0;          // int8 multiply-accumulate throughput, 1e9 op/s (a MAC is 2 ops)
  std::string int8_instruction;  // what int8_gops ran: "vpdpbusd", "vpmaddubsw+vpmaddwd", ...
  std::string isa;               // isa_name() of the probes that ran
  int threads = 0;
};

struct MachineLimitsOptions {
  // Buffer the bandwidth probe streams through; far larger than the last-level cache so the
  // reads come from memory. Allocated and touched once per measure_machine_limits call.
  size_t read_buffer_bytes = size_t(1) << 30;
  int passes = 3;                      // best of this many passes per probe (at least 1)
  double compute_pass_seconds = 0.04;  // target length of one compute pass
  bool measure_bandwidth = true;
  bool measure_compute = true;
};

// Probes at the ISA of select_isa() (so TOKENMILL_ISA lowers them along with the kernels).
// threads <= 0 means all hardware threads. Probes that are switched off in options report 0.
MachineLimits measure_machine_limits(int threads, const MachineLimitsOptions& options = {});
// Same at an explicit ISA; throws Error when this build or CPU lacks it.
MachineLimits measure_machine_limits(Isa isa, int threads, const MachineLimitsOptions& options);

}  // namespace tokenmill::kernels
