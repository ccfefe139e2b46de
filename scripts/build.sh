#!/usr/bin/env bash
# Configures and builds tokenmill into build/ (Release). Extra arguments go to cmake configure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc 2>/dev/null || echo 2)"
# Cache hits across checkouts in different directories.
export CCACHE_BASEDIR="$here"
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$here/build" -j "$jobs"
