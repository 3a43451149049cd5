#!/usr/bin/env bash
# The test job: set up, build everything (tests and benchmarks), run the suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" "$@"
