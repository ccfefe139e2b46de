#!/usr/bin/env bash
# Cross-builds the core and kernels libraries and their unit tests for aarch64 (NEON kernels
# included) into build-aarch64/ and runs test_core and test_kernels under qemu user mode through
# ctest. Exits non-zero when a tool is missing, the build fails or a test fails. See docs/edge.md.
# Extra arguments go to ctest (e.g. -R Quant). TOKENMILL_JOBS sets build and test parallelism.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$here/build-aarch64"
sysroot="${TOKENMILL_AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}"
jobs="${TOKENMILL_JOBS:-$(nproc 2>/dev/null || echo 2)}"

missing=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 ||
  missing+=("aarch64-linux-gnu-g++ (apt package g++-aarch64-linux-gnu)")
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=("qemu-aarch64 (apt package qemu-user)")
[[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ]] ||
  missing+=("aarch64 C library in $sysroot (apt package libc6-dev-arm64-cross, comes with g++-aarch64-linux-gnu)")
for tool in cmake ninja; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (apt package ${tool/ninja/ninja-build})")
done
if [[ ! -f /usr/src/googletest/CMakeLists.txt ]]; then
  missing+=("GoogleTest sources in /usr/src/googletest (apt package googletest)")
fi
if ((${#missing[@]})); then
  echo "test_aarch64: cannot cross-build and run the aarch64 tests; missing:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  echo "install with: sudo apt-get install g++-aarch64-linux-gnu qemu-user" >&2
  exit 2
fi

# Cache hits across checkouts in different directories (when ccache is installed, CMakeLists.txt
# uses it as the compiler launcher).
export CCACHE_BASEDIR="$here"
command -v ccache >/dev/null 2>&1 || echo "test_aarch64: ccache not found; building without it"

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$here/cmake/toolchain-aarch64-linux-gnu.cmake" \
  -DTOKENMILL_AARCH64_SYSROOT="$sysroot" \
  -DTOKENMILL_KERNELS_ONLY=ON -DTOKENMILL_TESTS=ON -DTOKENMILL_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs" --target test_core test_kernels
# Each test runs as qemu-aarch64 -L <sysroot> <test binary> (the toolchain's emulator).
(cd "$build" && ctest --output-on-failure -j "$jobs" "$@")
echo "test_aarch64: all aarch64 tests passed"
