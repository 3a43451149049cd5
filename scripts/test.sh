#!/usr/bin/env bash
# The test job: set up, build everything (tests and benchmarks), a bounded libFuzzer run, then
# the suite through CTest (which includes fuzz_corpus_replay: every committed fuzz input through
# its target). The libFuzzer run: every target for FUZZ_RUNS inputs from a fixed seed (default
# 3000, about 40 s after a build of about 5 minutes on 2 cores; 0 skips it), so CI repeats the
# same run. FUZZ_SECONDS=N fuzzes N seconds per target instead. docs/RELIABILITY.md has timings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# The fuzz run comes first so that CTest's summary is the last thing printed.
if ((${FUZZ_SECONDS:-0} > 0)); then
  bash scripts/fuzz.sh "$FUZZ_SECONDS"
elif ((${FUZZ_RUNS:-3000} > 0)); then
  FUZZ_RUNS=${FUZZ_RUNS:-3000} bash scripts/fuzz.sh
fi
ctest --test-dir build --output-on-failure --parallel "$(nproc)" "$@"
