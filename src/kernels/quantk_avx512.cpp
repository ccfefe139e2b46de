#include "kernels/variants.h"

namespace tokenmill::kernels::avx512 {
void add_quantk_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::avx512
