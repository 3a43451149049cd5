#!/usr/bin/env bash
# The test job: set up, build everything (tests and benchmarks), run the suite through CTest
# (which includes fuzz_corpus_replay: every committed fuzz input through its target).
# FUZZ_SECONDS=N (default 0: off) then also runs libFuzzer on each target for N seconds
# (scripts/fuzz.sh; needs clang-14 and libclang-rt-14-dev; docs/RELIABILITY.md has timings).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" "$@"
if ((${FUZZ_SECONDS:-0} > 0)); then
  bash scripts/fuzz.sh "$FUZZ_SECONDS"
fi
