#!/usr/bin/env bash
# Memory-model diagnostics for issue 12, for a GPU host (under 4 minutes on an H200):
#   BIN=build-gpu/dreamer TESTBIN=build-gpu/dreamer_tests bash bench/gpu/memory_diag.sh
# 1. `dreamer bench-memory` for every bench/gpu/memory/*.json, fp32 and bf16, at B 4 and B 1
#    (T 1024), and at B 4 with activation checkpointing: measured phases (weights, state after the warm-up step, saved for backward,
#    forward/backward/optimizer peaks, CUDA reserved) next to the predicted terms; B 1 against
#    B 4 splits the saved bytes into a per-sequence slope and an intercept.
# 2. `dreamer bench-memory --ops` (each op kind alone: measured saved bytes against the
#    ledger's charge) on cuda fp32, cuda bf16 (d 256 and d 768) and cpu fp32 (d 256).
# 3. The memory tests of TESTBIN on the CPU (their MEMOP lines: per-term measured/predicted).
# Compact tables go to stdout; everything (every JSON line, every MEMOP line, every error) to
# $OUT/memdiag.log when OUT is set (else /tmp/memdiag.log). JOBS runs in parallel (default 6):
# the caching allocator's statistics are per process, so parallel runs do not disturb them.
set -uo pipefail
cd "$(dirname "$0")/../.."
export BIN=${BIN:-build-gpu/dreamer}
TESTBIN=${TESTBIN:-build-gpu/dreamer_tests}
JOBS=${JOBS:-6}
LOG=${OUT:+$OUT/memdiag.log}
LOG=${LOG:-/tmp/memdiag.log}
WORK=$(mktemp -d)
export WORK
start=$(date +%s)
: >"$LOG"

[[ -x $BIN ]] || { echo "memory_diag: BIN=$BIN is not an executable" >&2; exit 2; }
"$BIN" doctor 2>&1 | grep -iE "libtorch|cuda|device|gpu" | head -6 | tee -a "$LOG"

# One job per line: kind name args...
jobs_file=$WORK/jobs
for c in bench/gpu/memory/*.json; do
  n=$(basename "$c" .json)
  for p in fp32 bf16; do
    for b in 4 1; do echo "fam ${n}_${p}_b$b --config $c --batch $b --seq 1024 --precision $p --label $n"; done
    # Activation checkpointing (workload.activation_checkpointing), B 4: its own row (label NAME_ckpt).
    echo "fam ${n}_${p}_b4_ckpt --config $c --batch 4 --seq 1024 --precision $p --label ${n}_ckpt --activation-checkpointing"
  done
done >"$jobs_file"
{
  echo "ops cuda32_d256 --ops --device cuda --precision fp32 --batch 4 --seq 1024"
  echo "ops cuda16_d256 --ops --device cuda --precision bf16 --batch 4 --seq 1024"
  echo "ops cuda32_d768 --ops --device cuda --precision fp32 --batch 4 --seq 1024 --ops-d 768 --ops-heads 12 --ops-hidden 2048 --ops-expert-dim 192"
  echo "ops cuda16_d768 --ops --device cuda --precision bf16 --batch 4 --seq 1024 --ops-d 768 --ops-heads 12 --ops-hidden 2048 --ops-expert-dim 192"
  echo "ops cpu32_d256 --ops --device cpu --precision fp32 --batch 4 --seq 1024"
} >"$WORK/ops_jobs"
# The slow CPU probe first, then the rest.
cat "$WORK/ops_jobs" "$jobs_file" >"$WORK/all_jobs"

run_job() {
  local kind=$1 name=$2
  shift 2
  local out=$WORK/$kind.$name
  if ! timeout 170 "$BIN" bench-memory "$@" --out "$out.jsonl" >"$out.stdout" 2>"$out.stderr"; then
    echo "FAIL $kind $name rc=$?: $(tail -c 400 "$out.stderr" | tr '\n' ' ')" >"$out.fail"
  fi
}
export -f run_job
xargs -P "$JOBS" -L1 bash -c 'run_job "$@"' _ <"$WORK/all_jobs" &
xpid=$!

# The tests on the CPU meanwhile (2.x CPU saved sets).
if [[ -x $TESTBIN ]]; then
  timeout 170 "$TESTBIN" --gtest_filter='MemoryModel*:ActivationCheckpointing*:MemoryOps*' \
    >"$WORK/tests.out" 2>&1
  echo "tests rc=$?" >>"$WORK/tests.out"
else
  echo "TESTBIN=$TESTBIN missing: tests not run" >"$WORK/tests.out"
fi
wait "$xpid"

# The combined log: everything, by source.
for f in "$WORK"/ops.*.jsonl "$WORK"/fam.*.jsonl; do
  [[ -f $f ]] && sed "s|^|$(basename "$f" .jsonl) |" "$f" >>"$LOG"
done
for f in "$WORK"/ops.*.stdout; do
  [[ -f $f ]] && sed "s|^|$(basename "$f" .stdout) |" "$f" >>"$LOG"
done
cat "$WORK"/*.fail 2>/dev/null | tee -a "$LOG"
cat "$WORK/tests.out" >>"$LOG"

echo "== tests (CPU, this build's LibTorch): MEMOP name measured predicted ratio"
grep -E "^MEMOP" "$WORK/tests.out" | awk '{printf "%s %.0fK %.0fK %s\n", $2, $4/1024, $6/1024, $8}'
grep -E "^\[  FAILED  \]|^tests rc|PASSED" "$WORK/tests.out" | sort -u | head -20

python3 - "$WORK" <<'EOF'
import glob, json, os, sys
work = sys.argv[1]
M = 2**20
fam = {}
for f in glob.glob(os.path.join(work, "fam.*.jsonl")):
    for line in open(f):
        j = json.loads(line)
        fam[(j["label"], j["precision"], j["batch"])] = j
print("== families, T 1024, MiB. peak meas/pred ratio | measured: w=weights warm=after warm-up "
      "sv=saved(meas/pred) fpk=fwd transient bpk opk=backward/optimizer peak rsv=reserved | "
      "pred: g o ac act ll | slope=B4-B1 saved per seq meas/pred, icpt=B1-slope meas/pred")
for (label, prec, b) in sorted(fam):
    if b != 4:
        continue
    j = fam[(label, prec, b)]
    m, p = j["measured"], j["predicted"]
    psv = p["activations"] + p.get("logits_loss_saved", 0)
    row = (f"{label:10s} {prec} pk {j['measured_peak_bytes']/M:6.0f}/{j['predicted_peak_bytes']/M:6.0f} "
           f"{j['measured_over_predicted']:.3f} | w {m['weights']/M:.0f} warm {m['after_warmup']/M:.0f} "
           f"sv {m['saved']/M:.0f}/{psv/M:.0f} fpk {m['forward_peak']/M:.0f} bpk {m['backward_peak']/M:.0f} "
           f"opk {m['optimizer_peak']/M:.0f} rsv {m['reserved_peak']/M:.0f} | g {p['gradients']/M:.0f} "
           f"o {p['optimizer']/M:.0f} ac {p['autocast_copies']/M:.0f} act {p['activations']/M:.0f} "
           f"ll {p['logits_loss']/M:.0f}")
    j1 = fam.get((label, prec, 1))
    if j1:
        p1 = j1["predicted"]
        psv1 = p1["activations"] + p1.get("logits_loss_saved", 0)
        ms = (m["saved"] - j1["measured"]["saved"]) / 3
        ps = (psv - psv1) / 3
        mi, pi = j1["measured"]["saved"] - ms, psv1 - ps
        row += f" | slope {ms/M:.0f}/{ps/M:.0f} icpt {mi/M:.0f}/{pi/M:.0f}"
    print(row)
ops = {}
runs = []
for f in sorted(glob.glob(os.path.join(work, "ops.*.jsonl"))):
    run = os.path.basename(f)[4:-6]
    runs.append(run)
    for line in open(f):
        j = json.loads(line)
        ops.setdefault(j["op"], {})[run] = j
print("== ops alone, B 4 T 1024: measured/predicted (measured MiB, fwd transient MiB), "
      "runs: " + " ".join(runs))
for op, by in ops.items():
    cells = []
    for r in runs:
        j = by.get(r)
        if not j:
            cells.append(f"{r}: -")
        elif "note" in j:
            cells.append(f"{r}: {j['note'][:40]}")
        else:
            ratio = j["measured"] / j["predicted"] if j["predicted"] else 0
            cells.append(f"{r}: {ratio:.2f}({j['measured']/M:.1f},{j['forward_peak']/M:.1f})")
    print(f"{op:20s} " + "  ".join(cells))
EOF
echo "memory_diag: $(( $(date +%s) - start )) s; log $LOG"
rm -rf "$WORK"
