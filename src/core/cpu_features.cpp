#include "core/cpu_features.h"

#include <cstdlib>
#include <string>

#include "core/error.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__linux__) && (defined(__x86_64__) || defined(_M_X64))
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace tokenmill {

#if defined(__x86_64__) || defined(_M_X64)
namespace {

// Linux keeps the 8 KiB AMX tile state off until a process asks for it (ARCH_REQ_XCOMP_PERM for
// XFEATURE_XTILEDATA); asked once, the answer holds for every thread.
bool amx_granted() {
#if defined(__linux__)
  static const bool granted = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
  return granted;
#else
  return false;
#endif
}

}  // namespace
#endif

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
  // CPUID.7.0:EDX bit 22 AMX-BF16, bit 24 AMX-TILE; XCR0 bits 17-18 the tile state.
  const bool tile_os = (xcr0_lo & (3u << 17)) == (3u << 17);
  f.amx_bf16 = f.avx512_vnni && f.avx512_bf16 && tile_os && (d & (1u << 22)) && (d & (1u << 24)) && amx_granted();
#elif defined(__aarch64__)
  f.neon = true;
#endif
  return f;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Vnni: return "avx512vnni";
    case Isa::Neon: return "neon";
    case Isa::Amx: return "amx";
  }
  return "?";
}

bool isa_from_name(std::string_view name, Isa& out) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni, Isa::Amx, Isa::Neon}) {
    if (isa_name(isa) == name) {
      out = isa;
      return true;
    }
  }
  return false;
}

bool isa_supported(Isa isa, const CpuFeatures& f) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.avx2;
    case Isa::Avx512: return f.avx512;
    case Isa::Avx512Vnni: return f.avx512 && f.avx512_vnni;
    case Isa::Neon: return f.neon;
    case Isa::Amx: return f.avx512 && f.avx512_vnni && f.amx_bf16;
  }
  return false;
}

Isa best_isa(const CpuFeatures& f) {
  if (f.neon) return Isa::Neon;
  if (f.avx512 && f.avx512_vnni && f.amx_bf16) return Isa::Amx;
  if (f.avx512 && f.avx512_vnni) return Isa::Avx512Vnni;
  if (f.avx512) return Isa::Avx512;
  if (f.avx2) return Isa::Avx2;
  return Isa::Scalar;
}

Isa select_isa() {
  const CpuFeatures f = detect_cpu_features();
  const Isa best = best_isa(f);
  const char* env = std::getenv("TOKENMILL_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::string want(env);
  Isa isa;
  if (!isa_from_name(want, isa))
    throw Error("TOKENMILL_ISA=" + want + ": expected scalar, avx2, avx512, avx512vnni, amx or neon");
  if (!isa_supported(isa, f))
    throw Error("TOKENMILL_ISA=" + want + ": this CPU or build lacks it (best here: " +
                std::string(isa_name(best)) + ")");
  return isa;
}

}  // namespace tokenmill
