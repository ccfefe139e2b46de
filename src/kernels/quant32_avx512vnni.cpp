// AVX-512 VNNI kernels of the 32-element-block family: vpdpbusd integer dots over the repacked
// weight panels of quant32_simd.h (32 rows x 6 tokens register tiles).
// GCC 12's AVX-512 headers build some results from a self-initialized "undefined" vector and then
// warn about it at every inlined use (GCC bug 105593, fixed in GCC 13): silence only that here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/quant32_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx512vnni {

void add_quant32_kernels(KernelTable& t) {
  q32::add_kernels<q32::Avx512Q32<true>>(t);
}

}  // namespace tokenmill::kernels::avx512vnni
