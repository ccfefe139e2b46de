#!/usr/bin/env bash
# Every test: installs dependencies, builds with warnings as errors, runs the C++ tests (ctest),
# the library tests again under ASan+UBSan and the engine tests under TSan, the core and kernel
# tests of the aarch64 build under qemu (NEON variants), then the Python tests (pytest: CLI, bad
# input, quantize, bench, and the OpenAI server end to end).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh" --ml
"$here/scripts/build.sh" -DTOKENMILL_WERROR=ON -DTOKENMILL_TESTS=ON
jobs="$(nproc 2>/dev/null || echo 2)"
export CCACHE_BASEDIR="$here"
(cd "$here/build" && ctest --output-on-failure -j "$jobs")
# The library's unit and oracle tests again under AddressSanitizer + UndefinedBehaviorSanitizer
# (-O1 keeps the instrumented build quick; the HTTP layer is covered by the Release run and pytest).
asan_targets=(test_core test_kernels test_formats test_sampling test_jinja test_tokenizer test_model test_kv test_engine)
cmake -S "$here" -B "$here/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DTOKENMILL_SANITIZE=ON -DTOKENMILL_WERROR=ON >/dev/null
cmake --build "$here/build-asan" -j "$jobs" --target "${asan_targets[@]}"
for t in "${asan_targets[@]}"; do
  echo "asan: $t"
  (cd "$here" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$here/build-asan/$t" --gtest_brief=1)
done
# The engine loop, its thread pool and request streams under ThreadSanitizer.
cmake -S "$here" -B "$here/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DTOKENMILL_WERROR=ON >/dev/null
cmake --build "$here/build-tsan" -j "$jobs" --target test_core test_engine
(cd "$here" && TSAN_OPTIONS=halt_on_error=1 "$here/build-tsan/test_core" --gtest_brief=1)
(cd "$here" && TSAN_OPTIONS=halt_on_error=1 "$here/build-tsan/test_engine" --gtest_brief=1 --gtest_filter='Engine.*')
# The edge build: core + kernels cross-compiled for aarch64, run under qemu-user.
"$here/scripts/test_aarch64.sh"
cd "$here" && TOKENMILL_BIN="$here/build/tokenmill" python3 -m pytest -q python/tests
