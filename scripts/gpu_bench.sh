#!/usr/bin/env bash
# Speed benchmark for a GPU machine with no network (about 1 minute on an H100-class GPU; well
# under 3). Needs only the repository (bundled weights and image); writes $OUT/bench_gpu.json,
# $OUT/bench_gpu.txt (the printed table) and $OUT/gpu.txt (nvidia-smi).
# Usage (repo root): bash scripts/gpu_bench.sh [DEVICE] [extra `prnet bench` flags...]
#   DEVICE defaults to cuda; `bash scripts/gpu_bench.sh cpu --batches 1 --seconds 0.1` checks
#   the script on a CPU-only machine.
set -euo pipefail
DEVICE=${1:-cuda}
shift $(( $# > 0 ? 1 : 0 ))
OUT=${OUT:-runs/bench}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt" || true
fi
timeout 170 python3 -m prnet bench --device "$DEVICE" --json "$OUT/bench_gpu.json" "$@" \
  | tee "$OUT/bench_gpu.txt"
