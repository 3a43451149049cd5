#!/usr/bin/env bash
# Run on a Debian machine with network: downloads the header/library packages that a bare
# CUDA machine lacks into .gpu-deps/ (git-ignored), to be sent along with the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
cd .gpu-deps
apt-get download nlohmann-json3-dev libcli11-dev libsqlite3-dev libsqlite3-0 \
  libgtest-dev googletest libbenchmark-dev libbenchmark1debian
ls -1 *.deb
