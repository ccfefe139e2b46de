#!/usr/bin/env bash
# Installs everything tokenmill needs to build and test: Debian packages and the PyPI packages of
# python/requirements.txt (with --ml also python/requirements-oracle.txt: PyTorch and friends).
# Idempotent: packages already present are not reinstalled.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pip prometheus
  chromium  # headless check of `tokenmill report` pages (python/tests/test_report_cli.py)
  g++-aarch64-linux-gnu qemu-user  # the aarch64 edge build's kernel tests (scripts/test_aarch64.sh)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pip_install() {  # requirements file
  python3 -m pip install -q -r "$1" 2>/dev/null || python3 -m pip install -q --break-system-packages -r "$1"
}
if ! python3 -c "import pytest, numpy, gguf, openai" 2>/dev/null; then
  echo "setup: installing Python packages from python/requirements.txt"
  pip_install "$here/python/requirements.txt"
fi
# With --ml: PyTorch, transformers, tokenizers, for the tests' oracles and the demo models' training
# pipeline (python/demo). The main job (scripts/run.sh) does not need them.
if [ "${1:-}" = "--ml" ] && ! python3 -c "import torch, transformers, tokenizers, safetensors, jinja2" 2>/dev/null; then
  echo "setup: installing Python packages from python/requirements-oracle.txt (PyTorch: a large download)"
  pip_install "$here/python/requirements-oracle.txt"
fi
