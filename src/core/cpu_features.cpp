#include "core/cpu_features.h"

#include <cstdlib>
#include <string>

#include "core/error.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace tokenmill {

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), f16c = c & (1u << 29);
  if (!osxsave) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_os = (xcr0_lo & 0x6) == 0x6;
  const bool zmm_os = (xcr0_lo & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = ymm_os && fma && f16c && (b & (1u << 5));
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31);
  f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && (c & (1u << 11));
  unsigned a1, b1, c1, d1;
  if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512_bf16 = f.avx512 && (a1 & (1u << 5));
#endif
  return f;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa select_isa() {
  const CpuFeatures f = detect_cpu_features();
  const Isa best = f.avx512 ? Isa::Avx512 : f.avx2 ? Isa::Avx2 : Isa::Scalar;
  const char* env = std::getenv("TOKENMILL_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::string want(env);
  Isa isa;
  if (want == "scalar") isa = Isa::Scalar;
  else if (want == "avx2") isa = Isa::Avx2;
  else if (want == "avx512") isa = Isa::Avx512;
  else throw Error("TOKENMILL_ISA=" + want + ": expected scalar, avx2 or avx512");
  if (int(isa) > int(best))
    throw Error("TOKENMILL_ISA=" + want + ": this CPU supports at most " + std::string(isa_name(best)));
  return isa;
}

}  // namespace tokenmill
