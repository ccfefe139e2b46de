#include <gtest/gtest.h>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/kernel_table.h"
#include "kernel_test_util.h"

namespace tokenmill::kernels {
namespace {

TEST(KernelDispatch, ActiveTableFollowsSelectIsa) {
  EXPECT_EQ(active_kernel_table().isa, select_isa());
  EXPECT_EQ(&active_kernel_table(), &active_kernel_table());  // chosen once
}

TEST(KernelDispatch, TablesReportTheirIsa) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni, Isa::Amx, Isa::Neon}) {
    if (testing::cpu_has(isa)) {
      EXPECT_EQ(kernel_table(isa).isa, isa);
    } else {
      EXPECT_THROW(kernel_table(isa), Error);
    }
  }
}

}  // namespace
}  // namespace tokenmill::kernels
