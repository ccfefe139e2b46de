// K-quant kernels for AVX-512 with VNNI (see quantk_simd.h): maddubs + vpdpwssd per 64 weights.
// GCC 12's AVX-512 headers build some results from a self-initialized "undefined" vector and then
// warn about it at every inlined use (GCC bug 105593, fixed in GCC 13): silence only that here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/quantk_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx512vnni {

void add_quantk_kernels(KernelTable& t) {
  quantk::add_kernels<quantk::Avx512Traits<true>>(t);
}

}  // namespace tokenmill::kernels::avx512vnni
