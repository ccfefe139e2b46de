#include "kernels/variants.h"

namespace tokenmill::kernels::avx512vnni {
void add_quant32_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::avx512vnni
