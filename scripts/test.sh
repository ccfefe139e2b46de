#!/usr/bin/env bash
# Every test: installs dependencies, builds with warnings as errors, runs the C++ tests (ctest)
# and the Python tests (pytest).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
"$here/scripts/build.sh" -DTOKENMILL_WERROR=ON -DTOKENMILL_TESTS=ON
jobs="$(nproc 2>/dev/null || echo 2)"
(cd "$here/build" && ctest --output-on-failure -j "$jobs")
cd "$here" && TOKENMILL_BIN="$here/build/tokenmill" python3 -m pytest -q python/tests
