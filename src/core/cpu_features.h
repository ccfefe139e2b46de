// The one place that decides which SIMD variant of a kernel runs. Detected once from CPUID and
// capped by TOKENMILL_ISA (scalar | avx2 | avx512 | avx512vnni | amx | neon) so every path can be tested
// on one machine.
#pragma once
#include <string_view>

namespace tokenmill {

// x86-64 levels are ordered: each includes the one below. Neon is the aarch64 baseline.
// Amx is avx512vnni plus the AMX tile unit's BF16 products for prefill (it is listed after Neon
// only to keep the older values).
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Avx512Vnni = 3, Neon = 4, Amx = 5 };

struct CpuFeatures {
  bool avx2 = false;       // with FMA and F16C
  bool avx512 = false;     // F, BW, VL, DQ
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
  // AMX-TILE and AMX-BF16, enabled by the OS and granted to this process (Linux asks for the
  // tile data state with arch_prctl once).
  bool amx_bf16 = false;
  bool neon = false;       // aarch64 Advanced SIMD (always there on aarch64)
};

CpuFeatures detect_cpu_features();
// Best ISA this CPU supports, lowered by the env var TOKENMILL_ISA when set.
// Throws Error when TOKENMILL_ISA names an unknown ISA or one this CPU lacks.
Isa select_isa();
// Best ISA of these features, ignoring TOKENMILL_ISA.
Isa best_isa(const CpuFeatures& f);
// True when code for `isa` may run on a CPU with these features.
bool isa_supported(Isa isa, const CpuFeatures& f);
std::string_view isa_name(Isa isa);
// The ISA named `name` ("avx512vnni"); false when none.
bool isa_from_name(std::string_view name, Isa& out);

}  // namespace tokenmill
