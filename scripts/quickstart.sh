#!/usr/bin/env bash
# The main job: set up, build, then run the quickstart experiment on the CPU (a tiny DR+DA+EA
# against a matched dense and a matched MoE transformer, trained, evaluated at several depths,
# stored in quickstart.db) and print its report (tables and plots under quickstart-report/).
# Re-running starts the experiment afresh and replaces its rows in quickstart.db.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh dreamer
./build/dreamer plan experiments/quickstart.json
./build/dreamer run experiments/quickstart.json --db quickstart.db --out runs "$@"
./build/dreamer report quickstart.db --out quickstart-report
