#include "kernels/variants.h"

namespace tokenmill::kernels::avx2 {
void add_quantk_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::avx2
