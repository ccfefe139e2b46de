#!/usr/bin/env bash
# The main job: installs dependencies, builds, and generates text from the bundled default model,
# printing prefill and decode tokens/s. Arguments replace the default `run` arguments.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
"$here/scripts/build.sh"
if (($#)); then
  exec "$here/build/tokenmill" "$@"
fi
exec "$here/build/tokenmill" run -p "Once upon a time" -n 64
