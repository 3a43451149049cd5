#!/usr/bin/env bash
# Installs every Debian package Dreamer Bench needs. Idempotent: when all packages are
# present it does nothing (no apt-get update, no network), so it is cheap to call first
# in every README command.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libtorch-dev
  # LibTorch on Debian otherwise falls back to the reference BLAS (measured ~5x slower).
  libopenblas0-openmp
  nlohmann-json3-dev libcli11-dev
  libsqlite3-dev sqlite3
  # c10d's Gloo process group (CPU data-parallel training, docs/DISTRIBUTED.md) needs its headers.
  libgloo-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev
  gnuplot-nox
  # libFuzzer (scripts/fuzz.sh): the bounded fuzz run of the test command.
  clang-14 libclang-rt-14-dev
  # scripts/format.sh: the tree's C++ format, checked by CI (.clang-format).
  clang-format
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
