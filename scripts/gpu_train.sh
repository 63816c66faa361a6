#!/usr/bin/env bash
# One GPU training run (device tool): network benchmark, then time-budgeted training from the pack.
# Usage (repo root, on the GPU machine): bash scripts/gpu_train.sh MINUTES [RESUME_DIR] [extra train flags...]
# Carry: pack/train.npz pack/dev.npz pack/renderer.npz pack/teacher_encoder.safetensors (+ RESUME_DIR)
# BENCH=0 skips the network benchmark (already in docs/training/gpu_bench_h200.jsonl).
# After training, the device-path throughput benchmark: bash scripts/gpu_bench.sh (README "GPU").
# CPU rehearsal: BENCH=0 OUT=/tmp/g bash scripts/gpu_train.sh 1 "" --device cpu --max-steps 2 --batch 2 --dev-limit 8
set -uo pipefail
MIN=${1:-6}; RESUME=${2:-}; shift 2 || shift $#
OUT=${OUT:-runs/gpu}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
[ "${BENCH:-1}" = 1 ] && python3 - <<'PY' 2>&1 | tee "$OUT/bench.txt"
import json, torch
from prnet.eval.bench import bench_network
rows = []
for name in ("mobilenet_unet", "mobilenet_unet_wide", "resfcn256"):
    rows += bench_network(name, "cuda", ("fp32", "fp16", "bf16"), (1, 256), channels_last=True, seconds=1.5)
for r in rows: print(json.dumps(r))
PY
ARGS=(--pack pack --out "$OUT/main" --minutes "$MIN" --batch 128 --lr 1e-3 --eval-every-min 2)
[ -n "$RESUME" ] && ARGS+=(--resume "$RESUME" --init none)
python3 -m prnet.train fit "${ARGS[@]}" "$@" 2>&1 | tr '\r' '\n' | grep -v '^train: .*s/s\]$' | tee "$OUT/train.txt"
ls -la "$OUT" "$OUT/main"
