// The one place that decides which SIMD variant of a kernel runs. Detected once from CPUID and
// capped by TOKENMILL_ISA (scalar | avx2 | avx512) so every path can be tested on one machine.
#pragma once
#include <string_view>

namespace tokenmill {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;       // with FMA and F16C
  bool avx512 = false;     // F, BW, VL, DQ
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
};

CpuFeatures detect_cpu_features();
// Best ISA this CPU supports, lowered by the env var TOKENMILL_ISA when set.
// Throws Error when TOKENMILL_ISA names an unknown ISA or one this CPU lacks.
Isa select_isa();
std::string_view isa_name(Isa isa);

}  // namespace tokenmill
