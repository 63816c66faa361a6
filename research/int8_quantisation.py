"""int8 static quantisation of the position-map network through onnxruntime: accuracy and speed.

Calibrates ``onnxruntime.quantization.quantize_static`` (QDQ, per-channel int8 weights) on crops
of AFLW *training* images made by the pipeline's own stages (detect → plan → crop, then the
network input exactly as :class:`prnet.pipeline.onnx_backend.OnnxPosmapNetwork` is fed), for a
few calibration methods and exclusion sets, and reports for each quantised file:

* the network time at batch 1 (1 thread) as a ratio to the fp32 file, timed in alternating
  rounds in the same run;
* max / mean / 99th-percentile absolute position-map difference vs fp32 on the face texels, and
  the 68 landmarks' mean / max 2D displacement (crop pixels), on held-out training crops;
* optionally (``--dev``) the AFLW2000-3D dev NME with the ground-truth crop, through
  ``python -m prnet --threads 1 eval aflw2000 DEV --crop gt --onnx FILE``.

Run from the repository root (``--threads 1`` throughout; ``--model fast`` for the fast
network, with the exclusions ``io+up`` / ``io+up+last``)::

    PYTHONPATH=src OMP_NUM_THREADS=1 python research/int8_quantisation.py --shared ../shared \
        --out /tmp/int8 --calib 200 --dev --variants minmax:io,minmax:io+first,minmax:io+last

A variant is METHOD:EXCLUSION[:FORMAT]: METHOD minmax, percentile or entropy; EXCLUSION (nodes
kept in fp32, see ``EXCLUSIONS``) none, io (input normalisation and output head), io+first (also
the first conv), io+last (also the last decoder block), pre+post (io but the head conv
quantised); FORMAT qdq (default) or qop. Percentile and entropy hold every calibration
activation in memory (200 crops took over 23 GB): run them with ``--calib 16``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from prnet import PRN
from prnet.io.image import read_image
from prnet.models.onnx_export import INPUT_NAME, OUTPUT_NAME
from prnet.pipeline.onnx_backend import open_runtime
from prnet.pipeline.posmaps import network_input

#: The graph's input normalisation (Slice/Mul/Sub/Div) and its output (head conv, scale,
#: mean-face add): kept in fp32 by the "io" exclusion.
IO_NODES = ["/Slice", "/Mul", "/Sub", "/Div", "/head/Conv", "/Cast", "/Mul_1", "/Add"]
FIRST_CONV = ["/conv1/Conv"]
HEAD_CONV = ["/head/Conv"]
LAST_BLOCK = ["/decoder.4/Resize", "/decoder.4/reduce/reduce.0/Conv", "/decoder.4/dw/dw.0/Conv",
              "/decoder.4/pw/pw.0/Conv", "/decoder.4/Add"]
#: The fast network (``--model fast``): its 64² residual's bilinear upsampling, and its last
#: decoder block (the 64² one).
FAST_UP = ["/Resize"]
FAST_LAST = ["/decoder.2/Resize", "/decoder.2/reduce/reduce.0/Conv", "/decoder.2/dw/dw.0/Conv",
             "/decoder.2/pw/pw.0/Conv", "/decoder.2/Add"]
EXCLUSIONS = {"none": [], "io": IO_NODES, "io+first": IO_NODES + FIRST_CONV,
              "io+last": IO_NODES + LAST_BLOCK,
              "pre+post": [n for n in IO_NODES if n not in HEAD_CONV],
              "io+up": IO_NODES + FAST_UP, "io+up+last": IO_NODES + FAST_UP + FAST_LAST}


def training_crops(prn: PRN, train_dir: Path, count: int, seed: int) -> np.ndarray:
    """(count, 256, 256, 3) uint8 crops of random training images (first detected face each)."""
    names = np.load(train_dir / "annotations.npz")["image"]
    order = np.random.default_rng(seed).permutation(len(names))
    crops = []
    for i in order:
        image = read_image(train_dir / "images" / str(names[i]))
        dets = prn.detect(image)
        if not dets:
            continue
        plans = prn.plan(dets[:1], image_shape=image.shape[:2])
        crops.append(prn.crop(image, plans).crops[0])
        if len(crops) == count:
            break
    return np.stack(crops)


def as_input(crops: np.ndarray) -> np.ndarray:
    """uint8 crops → the float input ``OnnxPosmapNetwork.forward`` hands onnxruntime."""
    x = network_input(torch.from_numpy(crops))
    return np.ascontiguousarray(x.float().numpy())


class Reader:
    """onnxruntime CalibrationDataReader over batch-1 inputs."""

    def __init__(self, crops: np.ndarray) -> None:
        self.crops, self.i = crops, 0

    def get_next(self):
        if self.i >= len(self.crops):
            return None
        self.i += 1
        return {INPUT_NAME: as_input(self.crops[self.i - 1:self.i])}

    def rewind(self) -> None:
        self.i = 0


@contextlib.contextmanager
def working_dir(path: Path):
    """Run the block in ``path``: onnxruntime's quantisation tools leave temporary files
    (``sym_shape_infer_temp.onnx``, ``<uuid>.data``) in the working directory."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def quantise(src: Path, dst: Path, crops: np.ndarray, method: str, exclude: list[str],
             fmt: str = "qdq") -> float:
    """Write the int8 QDQ file; returns the seconds it took."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    t = time.perf_counter()
    quantize_static(str(src), str(dst), Reader(crops), quant_format={"qdq": QuantFormat.QDQ, "qop": QuantFormat.QOperator}[fmt],
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=methods[method],
                    nodes_to_exclude=exclude,
                    extra_options={"CalibMaxIntermediateOutputs": 16,
                                   "CalibPercentile": 99.999})
    return time.perf_counter() - t


def run_all(sess, x: np.ndarray) -> np.ndarray:
    return np.concatenate([sess.run([OUTPUT_NAME], {INPUT_NAME: x[i:i + 1]})[0]
                           for i in range(len(x))])


def time_rounds(sessions: dict, x: np.ndarray, rounds: int, per_round: int) -> dict[str, float]:
    """Median ms per batch-1 run of each session, timed in alternating rounds."""
    ms = {k: [] for k in sessions}
    for s in sessions.values():
        s.run([OUTPUT_NAME], {INPUT_NAME: x})
    for _ in range(rounds):
        for k, s in sessions.items():
            t = time.perf_counter()
            for _ in range(per_round):
                s.run([OUTPUT_NAME], {INPUT_NAME: x})
            ms[k].append((time.perf_counter() - t) * 1000 / per_round)
    return {k: float(np.median(v)) for k, v in ms.items()}


def dev_eval(onnx: Path, dev: Path, out: Path, model: str = "default") -> dict:
    cmd = [sys.executable, "-m", "prnet", "--threads", "1", "eval", "aflw2000", str(dev),
           "--crop", "gt", "--json", str(out), "--onnx", str(onnx), "--model", model]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/int8"))
    ap.add_argument("--calib", type=int, default=200, help="calibration crops")
    ap.add_argument("--check", type=int, default=50, help="held-out crops for the map difference")
    ap.add_argument("--variants", default="minmax:io,minmax:io+first,minmax:io+last")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--dev", action="store_true", help="also run the dev eval (GT crop)")
    ap.add_argument("--model", default="default",
                    help="the bundled network to quantise: default or fast (exclusions io+up, "
                         "io+up+last keep its residual upsampling / last block in fp32)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    fp32 = args.out / "fp32.onnx"
    subprocess.run([sys.executable, "-m", "prnet", "export", "onnx", "--model", args.model,
                    "-o", str(fp32)], check=True)
    from onnxruntime.quantization import quant_pre_process

    pre = args.out / "fp32-pre.onnx"
    with working_dir(args.out):
        quant_pre_process(str(fp32.resolve()), str(pre.resolve()), skip_symbolic_shape=True)

    prn = PRN(model=args.model, device="cpu", backend="torch")
    t = time.perf_counter()
    crops = training_crops(prn, args.shared / "data" / "aflw-train", args.calib + args.check, 0)
    print(f"{len(crops)} training crops in {time.perf_counter() - t:.1f} s", flush=True)
    calib, check = crops[:args.calib], crops[args.calib:]

    face = prn.layout.face_mask

    def kpts(maps: np.ndarray) -> np.ndarray:
        return np.stack([prn.layout.landmarks(m.transpose(1, 2, 0))[:, :2] for m in maps])

    ref = open_runtime(fp32, threads=1)
    xs = as_input(check)
    ref_maps = run_all(ref, xs)
    rows = []
    for v in args.variants.split(","):
        method, excl, fmt = (v + ":qdq").split(":")[:3]
        dst = args.out / f"int8-{method}-{excl}-{fmt}.onnx"
        with working_dir(args.out):
            secs = quantise(pre.resolve(), dst.resolve(), calib, method, EXCLUSIONS[excl], fmt)
        sess = open_runtime(dst, threads=1)
        maps = run_all(sess, xs)
        d = np.abs(maps - ref_maps).transpose(0, 2, 3, 1)[:, face]
        kd = np.linalg.norm(kpts(maps) - kpts(ref_maps), axis=-1)
        ms = time_rounds({"fp32": ref, "int8": sess}, xs[:1], args.rounds, 20)
        row = {"variant": v, "quantise_s": round(secs, 1), "size_mb": dst.stat().st_size / 1e6,
               "max_px": float(d.max()), "mean_px": float(d.mean()),
               "p99_px": float(np.percentile(d, 99)),
               "kpt_mean_px": float(kd.mean()), "kpt_max_px": float(kd.max()),
               "fp32_ms": ms["fp32"], "int8_ms": ms["int8"], "speedup": ms["fp32"] / ms["int8"]}
        if args.dev:
            res = dev_eval(dst, args.shared / "data" / "aflw2000-3d-dev",
                           args.out / f"dev-{method}-{excl}-{fmt}.json", args.model)
            row["dev"] = res
        rows.append(row)
        print(json.dumps({k: (round(x, 4) if isinstance(x, float) else x)
                          for k, x in row.items() if k != "dev"}), flush=True)
    if args.dev:
        res = dev_eval(fp32, args.shared / "data" / "aflw2000-3d-dev", args.out / "dev-fp32.json",
                       args.model)
        rows.append({"variant": "fp32", "dev": res})
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
