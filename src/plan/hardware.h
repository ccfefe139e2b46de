// Devices `tokenmill plan` fits models on: a table of accelerators from their vendors' published
// figures (dense peaks, no structured sparsity) and `this`, the CPU it runs on, with its limits
// measured by the same probes as `tokenmill bench` (kernels/machine_limits.h).
#pragma once
#include <string>
#include <vector>

#include "plan/number_formats.h"

namespace tokenmill::plan {

struct Hardware {
  std::string name;            // "H100-SXM", "this"
  std::string description;     // "NVIDIA H100 SXM5 80 GB HBM3"
  bool is_cpu = false;
  double memory_bytes = 0;     // capacity (GPUs: as marketed, 1e9 bytes per GB)
  double available_bytes = 0;  // what a process can have now (CPU: MemAvailable; GPUs: capacity)
  double bandwidth = 0;        // memory read bandwidth, bytes/s
  double f32_flops = 0;        // dense peaks, op/s; 0 = no such unit
  double bf16_flops = 0;
  double fp8_flops = 0;
  double int8_ops = 0;
  double fp4_flops = 0;
  double watts = 0;            // board power (TDP); 0 = unknown

  // The peak a matmul of the class runs at here, and its name. A class the device lacks runs on
  // the next one it has: FP4 / FP8 weights are widened to BF16 (weight-only, as vLLM's Marlin
  // kernels do), INT8 to BF16; f32 on a GPU runs as TF32 at half the BF16 peak; a CPU without
  // a BF16 unit computes BF16 in f32.
  double peak(ComputeClass c) const;
  std::string peak_name(ComputeClass c) const;
};

// The built-in accelerators (A100 40/80 GB, H100 SXM/PCIe, H200, B200, L40S, L4, RTX 4090, MI300X).
const std::vector<Hardware>& hardware_table();
// This machine: MemTotal / MemAvailable, and bandwidth and peaks measured on `threads` threads
// (0 = all cores); takes about a second.
Hardware this_machine(int threads);
// "all" (the table and this machine), "this", or comma-separated names (case-insensitive).
// Throws Error naming an unknown one and listing the known ones.
std::vector<Hardware> select_hardware(const std::string& spec, int threads);

}  // namespace tokenmill::plan
