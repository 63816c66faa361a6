#!/usr/bin/env bash
# Device-path throughput benchmark on one GPU machine with no network (`prnet bench --device cuda`,
# about 2-4 minutes on an H100/H200-class GPU, capped at 7.5): network img/s at batch 1..512
# (fp32, bf16/fp16 autocast, channels-last, eager and CUDA graphs), batch-1 latency, torch vs NumPy
# post-stages, end-to-end faces/s from JPEG files with 4/8/16 decode workers (and nvJPEG when
# torchvision is installed), then the device path's CUDA tests (tests/pipeline/test_device_cuda.py,
# when pytest is there), then torch.compile at batch 1 and 512. Installs nothing: it needs torch
# with CUDA, numpy, opencv, pillow and safetensors already there (torchvision, pytest optional).
#
# Usage (repo root):  bash scripts/gpu_bench.sh [--dry-run] [extra `prnet bench` flags...]
#   writes $OUT (default runs/bench): gpu.txt (nvidia-smi), env.txt (versions),
#   bench_cuda.json + bench_cuda.txt (the table), test_device_cuda.txt, bench_cuda_compile.json + .txt
#   --dry-run: the same commands on the CPU with tiny sizes (bench_cpu.json), no GPU needed.
# Order on a lent GPU: training first (bash scripts/gpu_train.sh MINUTES ...), then this script.
set -uo pipefail
DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
OUT=${OUT:-runs/bench}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
  nvidia-smi | head -20
fi
python3 - <<'PY' 2>&1 | tee "$OUT/env.txt"
import os, torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, available {torch.cuda.is_available()}, "
      f"{os.cpu_count()} CPUs")
try:
    import torchvision
    print(f"torchvision {torchvision.__version__}")
except Exception as exc:  # noqa: BLE001
    print(f"torchvision not usable ({type(exc).__name__}): end to end decodes on the CPU only")
import cv2, PIL, safetensors  # noqa: F401  the pipeline's own dependencies
PY
if [ "$DRY" = 1 ]; then
  DEVICE=cpu
  SIZES=(--batches 1 2 --seconds 0.2 --e2e-images 4 --e2e-batch 2 --workers 1 2)
  COMPILE=()
else
  DEVICE=cuda
  SIZES=(--precision bf16 --seconds 0.5)
  COMPILE=(--precision bf16 --throughput --dtypes bf16 --batches 1 --compile-batches 1 512
           --no-cuda-graph --seconds 0.5 --e2e-images 512 --workers 16 --decoders cpu)
fi
timeout 270 python3 -m prnet bench --device "$DEVICE" --throughput "${SIZES[@]}" \
  --json "$OUT/bench_$DEVICE.json" "$@" | tee "$OUT/bench_$DEVICE.txt"
rc=${PIPESTATUS[0]}
# the device path against the CPU's numbers on this device (skipped without CUDA)
timeout 60 python3 -m pytest -q -rs -p no:cacheprovider tests/pipeline/test_device_cuda.py 2>&1 \
  | tail -8 | tee "$OUT/test_device_cuda.txt" || true
if [ "${#COMPILE[@]}" -gt 0 ]; then  # separate run: a slow compilation cannot cost the table above
  timeout 120 python3 -m prnet bench --device "$DEVICE" "${COMPILE[@]}" \
    --json "$OUT/bench_${DEVICE}_compile.json" | tee "$OUT/bench_${DEVICE}_compile.txt" \
    || echo "torch.compile run failed or timed out (the main table stands)"
fi
ls -la "$OUT"
exit "$rc"
