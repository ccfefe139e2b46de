// K-quant kernels for AVX-512 BW (see quantk_simd.h): maddubs + madd per 64 weights.
// GCC 12's AVX-512 headers build some results from a self-initialized "undefined" vector and then
// warn about it at every inlined use (GCC bug 105593, fixed in GCC 13): silence only that here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/quantk_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx512 {

void add_quantk_kernels(KernelTable& t) {
  quantk::add_kernels<quantk::Avx512Traits<false>>(t);
}

}  // namespace tokenmill::kernels::avx512
