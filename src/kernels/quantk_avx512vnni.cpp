#include "kernels/variants.h"

namespace tokenmill::kernels::avx512vnni {
void add_quantk_kernels(KernelTable&) {}
}  // namespace tokenmill::kernels::avx512vnni
