#!/usr/bin/env bash
# The main job: set up, build, list the model zoo, and run the CPU training demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh dreamer
./build/dreamer models
./build/dreamer demo "$@"
