#!/usr/bin/env bash
# Builds (and with --test, tests) the tree against LibTorch 2.x with CUDA, on a machine that
# has PyTorch's wheel (its LibTorch sits inside the Python package) or a LibTorch zip
# (set TORCH_CMAKE to its share/cmake). Header-only and small libraries come from the
# Debian packages fetched by scripts/gpu-deps.sh into .gpu-deps/ (unpacked with dpkg -x).
#   scripts/gpu-build.sh [--test] [--bench]
# DREAMER_SHARED_DATA_DIR: where the benchmark files are when ../shared/data is not beside the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-gpu}
PREFIX=${GPU_DEPS_PREFIX:-/tmp/dreamer-gpu-deps}

if [[ -d .gpu-deps ]]; then
  mkdir -p "$PREFIX"
  for f in .gpu-deps/*.deb; do dpkg -x "$f" "$PREFIX"; done
fi
TORCH_CMAKE=${TORCH_CMAKE:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}
# nccl.h for c10d's NCCL process group (docs/DISTRIBUTED.md) lives in the nvidia-nccl wheel.
NCCL_INCLUDE_DIR=${NCCL_INCLUDE_DIR:-$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDREAMER_CUDA_KERNELS="${DREAMER_CUDA_KERNELS:-ON}" \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$PREFIX/usr;$PREFIX/usr/lib/x86_64-linux-gnu/cmake;$PREFIX/usr/share/cmake" \
  ${DREAMER_SHARED_DATA_DIR:+-DDREAMER_SHARED_DATA_DIR="$DREAMER_SHARED_DATA_DIR"} \
  ${NCCL_INCLUDE_DIR:+-DNCCL_INCLUDE_DIR="$NCCL_INCLUDE_DIR"} \
  -DDREAMER_GTEST_SOURCE="$PREFIX/usr/src/googletest"
LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}" \
  cmake --build "$BUILD_DIR" --parallel "$(nproc)"

export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
"$BUILD_DIR/dreamer" doctor
for arg in "$@"; do
  case "$arg" in
    --test) ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel 8 ;;
    --bench) "$BUILD_DIR/dreamer_bench" --benchmark_min_time=0.2 ;;
  esac
done
