#include "kernels/variants.h"

namespace tokenmill::kernels::avx512 {
void add_quant32_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::avx512
