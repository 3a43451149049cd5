#!/usr/bin/env bash
# libFuzzer run of every fuzz target (fuzz/targets/*.cpp; docs/RELIABILITY.md). Builds them with
# clang (fuzz/libfuzzer/CMakeLists.txt) against the normal build's libdreamer_core.a, then
# fuzzes each for SECONDS seconds, starting from its committed inputs (fuzz/corpus/<target>/;
# new inputs go to $FUZZ_BUILD_DIR/corpus/, never into the tree). A finding stops the run with a
# non-zero exit and the input saved under $FUZZ_BUILD_DIR/findings/<target>/; replay it with
# `build/fuzz/dreamer_fuzz_replay DIR TARGET` (DIR/TARGET/ holding the file).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 20)] [TARGET...]
# BUILD_DIR (default build): the normal build; FUZZ_BUILD_DIR (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
shift || true
BUILD_DIR=${BUILD_DIR:-build}
FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
CLANG=${CLANG:-$(command -v clang++-14 || command -v clang++ || true)}
if [[ -z "$CLANG" ]]; then
  echo "fuzz: no clang++ (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

start=$(date +%s)
if [[ ! -f "$BUILD_DIR/libdreamer_core.a" ]]; then
  cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target dreamer_core
fi
if [[ ! -f "$FUZZ_BUILD_DIR/build.ninja" ]]; then
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  cmake -S fuzz/libfuzzer -B "$FUZZ_BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER="$CLANG" \
    "${launcher[@]}" -DDREAMER_CORE_ARCHIVE="$PWD/$BUILD_DIR/libdreamer_core.a" >/dev/null
fi
cmake --build "$FUZZ_BUILD_DIR" --parallel "${FUZZ_JOBS:-$(nproc)}"
built=$(date +%s)
echo "fuzz: targets built in $((built - start)) s"

targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in fuzz/targets/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
# Leaks: LibTorch and the registries keep never-freed singletons on purpose.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
for t in "${targets[@]}"; do
  mkdir -p "$FUZZ_BUILD_DIR/corpus/$t" "$FUZZ_BUILD_DIR/findings/$t"
  log="$FUZZ_BUILD_DIR/findings/$t.log"
  # FUZZ_RUNS=N: exactly N inputs from seed 1 instead of a time limit, so a run repeats itself
  # (what CI uses: scripts/test.sh).
  if [[ -n "${FUZZ_RUNS:-}" ]]; then budget=(-runs="$FUZZ_RUNS" -seed=1); else
    budget=(-max_total_time="$SECONDS_PER_TARGET"); fi
  if "./$FUZZ_BUILD_DIR/fuzz_$t" "${budget[@]}" -timeout=20 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD_DIR/findings/$t/" \
      "$FUZZ_BUILD_DIR/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
    echo "fuzz: $t: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions, no findings"
  else
    echo "fuzz: $t: FINDING (log: $log)"
    grep -E 'fuzz finding|ERROR: |SUMMARY|runtime error|Test unit written' "$log" | head -5
    status=1
  fi
done
echo "fuzz: $(( $(date +%s) - start )) s in all"
exit $status
