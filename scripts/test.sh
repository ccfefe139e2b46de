#!/usr/bin/env bash
# Every test: installs dependencies, builds with warnings as errors, runs the C++ tests (ctest)
# and the Python tests (pytest).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
"$here/scripts/build.sh" -DTOKENMILL_WERROR=ON -DTOKENMILL_TESTS=ON
jobs="$(nproc 2>/dev/null || echo 2)"
(cd "$here/build" && ctest --output-on-failure -j "$jobs")
# The unit and oracle tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
cmake -S "$here" -B "$here/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENMILL_SANITIZE=ON \
  -DTOKENMILL_WERROR=ON >/dev/null
cmake --build "$here/build-asan" -j "$jobs"
(cd "$here/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j "$jobs")
cd "$here" && TOKENMILL_BIN="$here/build/tokenmill" python3 -m pytest -q python/tests
