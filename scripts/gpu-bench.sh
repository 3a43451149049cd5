#!/usr/bin/env bash
# One GPU call: build against the PyTorch wheel's LibTorch, run the CUDA tests (and the CPU
# fast-path tests under LibTorch 2.x), then time in the same run the project's training step
# (`dreamer bench-step`) against the same models in PyTorch's Python API, eager and
# torch.compile (bench/gpu/reference.py), one expert layer grouped against the loop, cached
# decoding against re-running the forward at T=1024 (`dreamer bench-decode`), and GSM8K 5-shot
# eval throughput with mixed-length batches against equal-length ones (`dreamer bench-eval`).
# Prints one table at the end; every JSON line, log and the table go to $OUT.
#
#   scripts/gpu-bench.sh [--only dense374,dense58,moe922,dr,dr_da_ea,experts,memory,decode,
#                        gsm8k_eval] [--no-build]
#                        [--no-tests] [--no-compile] [--steps N] [--budget SECONDS]
#
# Run from the repo root with .gpu-deps/ present (scripts/gpu-deps.sh). --budget (default 530)
# is the wall time the whole script may take: torch.compile runs come last and are skipped or
# cut off when the remaining time is short (the table says so).
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
OUT=${OUT:-$PWD/gpu-bench-out}
mkdir -p "$OUT"
ONLY="dense374,dense58,moe922,dr,dr_da_ea,experts,memory,decode,gsm8k_eval"
BUILD=1 TESTS=1 COMPILE=1 STEPS=10 BUDGET=530
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) ONLY=$2; shift ;;
    --no-build) BUILD=0 ;;
    --no-tests) TESTS=0 ;;
    --no-compile) COMPILE=0 ;;
    --steps) STEPS=$2; shift ;;
    --budget) BUDGET=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD_DIR=${BUILD_DIR:-build-gpu}
PREFIX=${GPU_DEPS_PREFIX:-/tmp/dreamer-gpu-deps}
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( BUDGET - $(elapsed) )); }
log() { echo "[$(elapsed)s] $*"; }
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }

if (( BUILD )); then
  log "build (scripts/gpu-build.sh, log in $OUT/build.log)"
  if ! scripts/gpu-build.sh > "$OUT/build.log" 2>&1; then
    tail -30 "$OUT/build.log"
    log "build failed"
    exit 1
  fi
fi
DREAMER="$BUILD_DIR/dreamer"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' >> "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"

if (( TESTS )); then
  FILTER='Cuda*:ExpertSlots*:ExpertLoop*:ExpertGrouped*:DepthAttentionBuffers*:RopeTable*:RmsNorm*'
  FILTER+=':HiddenOnly*:FusedAdamW*:ClipGradNorm*:ChunkedCrossEntropy*:AttentionBackends*'
  FILTER+=':ChunkedTrainingLoss*:*StaticCache*:KVCache*:BatchedEval*:StopScanner*'
  log "tests: $FILTER"
  timeout 120 "$BUILD_DIR/dreamer_tests" --gtest_filter="$FILTER" > "$OUT/tests.log" 2>&1
  echo "tests exit $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/tests.log" | tr '\n' ' ')"
  grep -E '^\[  FAILED  \]|Failure|error:' "$OUT/tests.log" | head -20
fi

# A failed or timed-out run still leaves a line, so the table shows what is missing.
record_failure() {  # label impl message
  python3 -c 'import json,sys; print(json.dumps({"label": sys.argv[1], "impl": sys.argv[2], "error": sys.argv[3]}))' \
    "$1" "$2" "$3" >> "$RESULTS"
}
run_json() {  # label impl timeout command...: appends the command's last JSON line to results
  local label=$1 impl=$2 limit=$3
  shift 3
  if (( limit < 20 )); then record_failure "$label" "$impl" "skipped: time budget"; return; fi
  local logfile="$OUT/$label.$impl.log" status line
  timeout "$limit" "$@" > "$logfile" 2>&1
  status=$?
  line=$(grep '^{' "$logfile" | tail -1)
  if (( status == 0 )) && [[ -n "$line" ]]; then
    echo "$line" >> "$RESULTS"
    log "$label $impl: done"
    return
  fi
  (( status == 124 )) && echo "timed out after ${limit}s" >> "$logfile"
  record_failure "$label" "$impl" "exit $status ($(basename "$logfile"): $(tail -1 "$logfile" | cut -c1-160))"
  log "$label $impl: FAILED ($(tail -1 "$logfile" | cut -c1-160))"
}

python3 bench/gpu/reference.py peak >> "$RESULTS" 2>"$OUT/peak.log" || record_failure peak torch "matmul peak failed"

MODELS=(dense374:8 dense58:16 moe922:8 dr:8 dr_da_ea:8)
for entry in "${MODELS[@]}"; do
  name=${entry%%:*} batch=${entry##*:}
  wanted "$name" || continue
  config="bench/gpu/$name.json"
  common=(--config "$config" --batch "$batch" --seq 2048 --steps "$STEPS" --label "$name")
  run_json "$name" dreamer 120 "$DREAMER" bench-step "${common[@]}"
  run_json "$name" eager 120 python3 bench/gpu/reference.py step "${common[@]}"
done

if wanted experts; then
  for e in 64 256; do
    run_json "experts$e" dreamer 60 "$DREAMER" bench-experts --experts "$e" --k 8 --d-model 1024 \
      --expert-dim 512 --tokens 16384
    run_json "experts$e" torch 60 python3 bench/gpu/reference.py experts --experts "$e" --k 8 \
      --d-model 1024 --expert-dim 512 --tokens 16384
  done
fi

# Memory model against the CUDA caching allocator: every family at two sizes
# (bench/gpu/memory/*_s.json d 256, *_m.json d 768), fp32 and bf16, with and without activation
# checkpointing, one training step each
# (`dreamer bench-memory`); summary.py tabulates measured / predicted.
if wanted memory; then
  for config in bench/gpu/memory/*.json; do
    name=$(basename "$config" .json)
    for precision in fp32 bf16; do
      run_json "mem-$name-$precision" dreamer-memory 60 "$DREAMER" bench-memory --config "$config" \
        --batch 4 --seq 1024 --precision "$precision" --label "$name"
      # Activation checkpointing, where the family supports it (depth attention and MoEUT's
      # entropy regulariser refuse it).
      case $name in dr_da* | moeut*) continue ;; esac
      run_json "mem-${name}_ckpt-$precision" dreamer-memory 60 "$DREAMER" bench-memory \
        --config "$config" --batch 4 --seq 1024 --precision "$precision" --label "${name}_ckpt" \
        --activation-checkpointing
    done
  done
fi

if wanted decode; then
  for name in dense374 dr_da_ea; do
    run_json "decode_$name" dreamer 120 "$DREAMER" bench-decode --config "bench/gpu/$name.json" \
      --context 1024 --new-tokens 64 --label "decode_$name"
  done
fi

if wanted gsm8k_eval; then
  # Byte tokens and no truncation, so prompt lengths differ (truncated to one max length they
  # would all be equal). Equal-length batches (the earlier scheme) rarely batch anything, so
  # they score fewer documents; the table compares documents per second.
  common=(--config bench/gpu/dense374.json --batch-size 32 --max-length 0 --label gsm8k_eval)
  run_json gsm8k_eval mixed 240 "$DREAMER" bench-eval "${common[@]}" --docs 256 --grouping mixed
  run_json gsm8k_eval equal 240 "$DREAMER" bench-eval "${common[@]}" --docs 32 --grouping equal
fi

if (( COMPILE )); then
  for entry in "${MODELS[@]}"; do
    name=${entry%%:*} batch=${entry##*:}
    wanted "$name" || continue
    limit=$(( $(left) - 15 ))
    (( limit > 240 )) && limit=240
    run_json "$name" torch.compile "$limit" python3 bench/gpu/reference.py step --config "bench/gpu/$name.json" \
      --batch "$batch" --seq 2048 --steps "$STEPS" --label "$name" --compile
  done
fi

log "done"
python3 bench/gpu/summary.py "$RESULTS" | tee "$OUT/summary.md"
