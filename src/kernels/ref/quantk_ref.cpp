#include "kernels/variants.h"

namespace tokenmill::kernels::ref {
void add_quantk_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::ref
