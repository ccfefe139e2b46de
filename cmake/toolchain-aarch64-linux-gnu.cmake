# Cross-compiles for 64-bit Arm Linux with Debian's GNU cross toolchain (apt packages
# g++-aarch64-linux-gnu and, to run the tests, qemu-user). Used by scripts/test_aarch64.sh:
#   cmake -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake \
#         -DTOKENMILL_KERNELS_ONLY=ON
# Target binaries run through CMAKE_CROSSCOMPILING_EMULATOR (qemu user mode, with the target's
# dynamic loader and libraries taken from the sysroot), so ctest works unchanged.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

# Overridable for other toolchains, e.g. -DTOKENMILL_CROSS_PREFIX=aarch64-none-linux-gnu-.
set(TOKENMILL_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "Cross compiler name prefix")
set(TOKENMILL_AARCH64_SYSROOT "/usr/aarch64-linux-gnu" CACHE PATH
    "Target libraries and headers (also qemu's -L prefix)")

set(CMAKE_C_COMPILER ${TOKENMILL_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${TOKENMILL_CROSS_PREFIX}g++)

# Libraries, headers and CMake packages come from the target's root only; build tools from the host.
set(CMAKE_FIND_ROOT_PATH ${TOKENMILL_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${TOKENMILL_AARCH64_SYSROOT})
