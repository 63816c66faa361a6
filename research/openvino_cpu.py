"""OpenVINO vs onnxruntime on the CPU for the exported networks (position map, full and fast,
and the BlazeFace detector), batch 1, same threads, fp32 forced in OpenVINO (its CPU default on
AVX512-BF16/AMX processors is bf16) and bf16 as OpenVINO picks it, with the max abs difference
to onnxruntime's output. Timed in turns, median of rounds.

    pip install openvino onnxruntime
    PYTHONPATH=src python research/openvino_cpu.py [--threads 1] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def timer(fn, x, seconds: float) -> float:
    fn(x)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(x)
        n += 1
    return (time.perf_counter() - t0) * 1e3 / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.5)
    args = ap.parse_args()
    import openvino as ov

    from prnet.models.onnx_export import export_onnx
    from prnet.models.onnx_runtime import cached_detector_onnx, open_session
    from prnet.models.weights import load_model

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    files = {}
    for name in ("mobilenet_unet", "mobilenet_unet_fast"):
        net = load_model(name)  # bundled weights
        files[name] = (export_onnx(net, tmp / f"{name}.onnx", name, "0" * 64), "crops", 256)
    for v, s in (("short", 128), ("full", 192)):
        files[f"blazeface_{v}"] = (cached_detector_onnx(v), "image", s)
    core = ov.Core()
    runners, refs = {}, {}
    rng = np.random.default_rng(0)
    for name, (path, inp, size) in files.items():
        x = rng.random((1, 3, size, size), np.float32)
        sess = open_session(path, args.threads)
        runners[(name, "onnxruntime fp32")] = lambda x, s=sess, i=inp: s.run(None, {i: x})[0]
        for prec in ("f32", "bf16"):
            cfg = {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY",
                   "INFERENCE_PRECISION_HINT": prec}
            compiled = core.compile_model(str(path), "CPU", cfg)
            req = compiled.create_infer_request()
            runners[(name, f"openvino {prec}")] = (
                lambda x, r=req: r.infer({0: x})[0].copy())
        refs[name] = x
    times: dict = {k: [] for k in runners}
    for _ in range(args.rounds):
        for k, fn in runners.items():
            times[k].append(timer(fn, refs[k[0]], args.seconds))
    rows = []
    for (name, rt), ts in times.items():
        want = runners[(name, "onnxruntime fp32")](refs[name])
        got = runners[(name, rt)](refs[name])
        rows.append({"network": name, "runtime": rt, "ms_b1": round(float(np.median(ts)), 3),
                     "ms_b1_min": round(float(np.min(ts)), 3),
                     "max_abs_diff_vs_ort": float(np.abs(got - want).max())})
        print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
