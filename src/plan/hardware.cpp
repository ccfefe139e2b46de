#include "plan/hardware.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "core/cpu_features.h"
#include "core/error.h"
#include "plan/units.h"
#include "kernels/machine_limits.h"

namespace tokenmill::plan {
namespace {

constexpr double GB = 1e9, TB = 1e12, T = 1e12;

// Vendor datasheets, dense tensor-core figures (the "with sparsity" ones halved); RTX 4090 at
// FP32 accumulate. Sources are listed in docs/plan.md.
std::vector<Hardware> make_table() {
  auto gpu = [](const char* name, const char* desc, double mem_gb, double bw, double bf16, double fp8, double int8,
                double fp4, double watts) {
    Hardware h;
    h.name = name;
    h.description = desc;
    h.memory_bytes = h.available_bytes = mem_gb * GB;
    h.bandwidth = bw;
    h.bf16_flops = bf16 * T;
    h.fp8_flops = fp8 * T;
    h.int8_ops = int8 * T;
    h.fp4_flops = fp4 * T;
    h.watts = watts;
    return h;
  };
  return {
      gpu("A100-40GB", "NVIDIA A100 SXM4 40 GB HBM2", 40, 1.555 * TB, 312, 0, 624, 0, 400),
      gpu("A100-80GB", "NVIDIA A100 SXM4 80 GB HBM2e", 80, 2.039 * TB, 312, 0, 624, 0, 400),
      gpu("H100-SXM", "NVIDIA H100 SXM5 80 GB HBM3", 80, 3.35 * TB, 989, 1979, 1979, 0, 700),
      gpu("H100-PCIe", "NVIDIA H100 PCIe 80 GB HBM2e", 80, 2.0 * TB, 756, 1513, 1513, 0, 350),
      gpu("H200", "NVIDIA H200 SXM 141 GB HBM3e", 141, 4.8 * TB, 989, 1979, 1979, 0, 700),
      gpu("B200", "NVIDIA B200 (HGX) 180 GB HBM3e", 180, 7.7 * TB, 2250, 4500, 4500, 9000, 1000),
      gpu("L40S", "NVIDIA L40S 48 GB GDDR6", 48, 0.864 * TB, 362, 733, 733, 0, 350),
      gpu("L4", "NVIDIA L4 24 GB GDDR6", 24, 0.300 * TB, 121, 242.5, 242.5, 0, 72),
      gpu("RTX-4090", "NVIDIA GeForce RTX 4090 24 GB GDDR6X", 24, 1.008 * TB, 165.2, 330.3, 660.6, 0, 450),
      gpu("MI300X", "AMD Instinct MI300X 192 GB HBM3", 192, 5.3 * TB, 1307.4, 2614.9, 2614.9, 0, 750),
  };
}


// /proc/meminfo value in bytes (0 when absent).
double meminfo_bytes(const std::string& field) {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  double kib = 0;
  while (in >> key >> kib >> unit)
    if (key == field + ":") return kib * 1024;
  return 0;
}

}  // namespace

double Hardware::peak(ComputeClass c) const {
  switch (c) {
    case ComputeClass::FP4:
      if (fp4_flops > 0) return fp4_flops;
      return peak(ComputeClass::BF16);
    case ComputeClass::FP8:
      if (fp8_flops > 0) return fp8_flops;
      return peak(ComputeClass::BF16);
    case ComputeClass::INT8:
      if (int8_ops > 0) return int8_ops;
      return peak(ComputeClass::BF16);
    case ComputeClass::BF16:
      return bf16_flops > 0 ? bf16_flops : f32_flops;
    case ComputeClass::F32:
      return f32_flops > 0 ? f32_flops : bf16_flops / 2;
  }
  return 0;
}

std::string Hardware::peak_name(ComputeClass c) const {
  switch (c) {
    case ComputeClass::FP4:
      return fp4_flops > 0 ? "fp4" : peak_name(ComputeClass::BF16) + " (fp4 widened)";
    case ComputeClass::FP8:
      return fp8_flops > 0 ? "fp8" : peak_name(ComputeClass::BF16) + " (fp8 widened)";
    case ComputeClass::INT8:
      return int8_ops > 0 ? "int8" : peak_name(ComputeClass::BF16) + " (int8 widened)";
    case ComputeClass::BF16:
      return bf16_flops > 0 ? "bf16" : "f32";
    case ComputeClass::F32:
      return f32_flops > 0 ? "f32" : "tf32";
  }
  return "?";
}

const std::vector<Hardware>& hardware_table() {
  static const std::vector<Hardware> table = make_table();
  return table;
}

Hardware this_machine(int threads) {
  const kernels::MachineLimits lim = kernels::measure_machine_limits(threads);
  Hardware h;
  h.name = "this";
  std::ostringstream d;
  d << "this machine: " << lim.threads << " threads, " << lim.isa << ", measured " << lim.read_bw_gbs
    << " GB/s read";
  h.description = d.str();
  h.is_cpu = true;
  h.memory_bytes = meminfo_bytes("MemTotal");
  h.available_bytes = meminfo_bytes("MemAvailable");
  if (h.available_bytes <= 0) h.available_bytes = h.memory_bytes;
  h.bandwidth = lim.read_bw_gbs * 1e9;
  h.f32_flops = lim.f32_gflops * 1e9;
  h.int8_ops = lim.int8_gops * 1e9;
  return h;
}

std::vector<Hardware> select_hardware(const std::string& spec, int threads) {
  const std::string s = lower_ascii(spec);
  if (s == "all") {
    std::vector<Hardware> all = hardware_table();
    all.push_back(this_machine(threads));
    return all;
  }
  std::vector<Hardware> out;
  std::stringstream names(spec);
  std::string name;
  while (std::getline(names, name, ',')) {
    if (lower_ascii(name) == "this") {
      out.push_back(this_machine(threads));
      continue;
    }
    auto it = std::find_if(hardware_table().begin(), hardware_table().end(),
                           [&](const Hardware& h) { return lower_ascii(h.name) == lower_ascii(name); });
    if (it == hardware_table().end()) {
      std::string known;
      for (const Hardware& h : hardware_table()) known += h.name + ", ";
      throw Error("unknown hardware '" + name + "' (one of: " + known + "this, all)");
    }
    out.push_back(*it);
  }
  if (out.empty()) throw Error("--hardware names no device");
  return out;
}

}  // namespace tokenmill::plan
