#!/usr/bin/env bash
# CPU training speed with and without a busy neighbour: `dreamer demo` tokens/s on an idle
# machine and beside one busy-looping process, under the OpenMP wait policy the CLI chooses
# (PASSIVE, by re-executing itself) and under libgomp's default (spinning) policy. Prints one
# line per case and the busy/idle ratio. The target: busy >= 0.5 x idle.
#   bench/cpu_contention.sh [path/to/dreamer] [steps]
set -euo pipefail
DREAMER=${1:-build/dreamer}
STEPS=${2:-12}

tokens_per_s() {  # runs the demo with the given environment assignments, prints its tokens/s
  env "$@" "$DREAMER" ${THREADS:+--threads "$THREADS"} demo --steps "$STEPS" | sed -n 's/.* \([0-9]*\) tokens\/s$/\1/p'
}

busy_neighbour() {  # one process spinning on one core until killed
  bash -c 'while :; do :; done' > /dev/null 2>&1 &  # detached from $(...)'s pipe
  echo $!
}

run_case() {  # label, env assignments...
  local label=$1
  shift
  local idle busy pid
  idle=$(tokens_per_s "$@")
  pid=$(busy_neighbour)
  busy=$(tokens_per_s "$@")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  awk -v l="$label" -v i="$idle" -v b="$busy" \
    'BEGIN { printf "%-34s idle %7d tok/s   busy %7d tok/s   busy/idle %.2f\n", l, i, b, b / i }'
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run_case "default (PASSIVE via re-exec)" DREAMER_BENCH=1
run_case "libgomp default (spinning)" GOMP_SPINCOUNT=300000
THREADS=1 run_case "default, --threads 1" DREAMER_BENCH=1
THREADS=$(nproc) run_case "--threads $(nproc) (every core: the old default)" DREAMER_BENCH=1
