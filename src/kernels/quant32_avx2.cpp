#include "kernels/variants.h"

namespace tokenmill::kernels::avx2 {
void add_quant32_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::avx2
