#include "kernels/variants.h"

namespace tokenmill::kernels::ref {
void add_quant32_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::ref
