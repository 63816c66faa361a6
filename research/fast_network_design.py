"""Where to stop the decoder of the fast network (``mobilenet_unet_fast``): speed and the
accuracy a coarser position map can keep.

1. **Speed** — the bundled network's architecture with its decoder cut to 5 (the bundled
   network: 256² output), 4 (128²) and 3 (64²) blocks, the residual bilinearly upsampled to 256²
   (``MobileNetUNet(decoder=...)``), exported to ONNX and timed in onnxruntime at batch 1 on one
   thread (median of ``--repeats`` runs after 3 warm-ups). Random weights run as fast as trained
   ones.
2. **Accuracy floor** — the bundled network's own output with its residual (map minus the mean
   face) average-pooled by k = 1, 2, 4, 8 (256², 128², 64², 32²) and bilinearly upsampled back:
   the dev 2D balanced NME (inside ``prnet train``'s evaluation: pack crops, calibrated texels)
   a network predicting perfectly at that resolution would lose to the resampling alone. Needs
   ``pack/dev.npz`` (``prnet train pack``).

Usage: ``PYTHONPATH=src python research/fast_network_design.py [--pack pack] [--repeats 15]``
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from prnet.models.unet import MobileNetUNet

DECODERS = {"5 blocks, 256² (mobilenet_unet)": (192, 128, 96, 64, 32),
            "4 blocks, 128²": (192, 128, 96, 64),
            "3 blocks, 64² (mobilenet_unet_fast)": (192, 128, 96)}


def onnxruntime_ms(net: torch.nn.Module, repeats: int) -> float:
    import onnxruntime as ort

    f = io.BytesIO()
    torch.onnx.export(net.eval(), torch.rand(1, 3, 256, 256), f, input_names=["x"],
                      output_names=["y"], opset_version=17, dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sess = ort.InferenceSession(f.getvalue(), so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, 256, 256), np.float32)
    for _ in range(3):
        sess.run(None, {"x": x})
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, {"x": x})
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


class PooledResidual(torch.nn.Module):
    """The network's residual average-pooled by ``k`` and bilinearly upsampled back to 256²."""

    def __init__(self, net: torch.nn.Module, k: int) -> None:
        super().__init__()
        self.net, self.k = net, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        if self.k == 1:
            return y
        r = F.avg_pool2d(y - self.net.mean_posmap, self.k)
        return self.net.mean_posmap + F.interpolate(r, size=y.shape[-2:], mode="bilinear",
                                                    align_corners=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default="pack", help="folder with dev.npz (accuracy floor)")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--pools", type=int, nargs="+", default=[1, 2, 4, 8])
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("onnxruntime, batch 1, 1 thread (ms, median):")
    for name, widths in DECODERS.items():
        print(f"  {name:<38} {onnxruntime_ms(MobileNetUNet(0.5, widths), args.repeats):7.2f}")
    dev = Path(args.pack) / "dev.npz"
    if not dev.is_file():
        print(f"accuracy floor skipped: {dev} not found (prnet train pack)")
        return
    from prnet.models.weights import load_model
    from prnet.train.config import TrainConfig
    from prnet.train.loop import DevSet, evaluate

    net = load_model("mobilenet_unet", None, "cpu").eval()
    data = DevSet(dict(np.load(dev)), None, "cpu")
    cfg = TrainConfig(device="cpu")
    print("bundled network, residual pooled by k and upsampled back: dev 2D NME balanced")
    for k in args.pools:
        print(f"  k={k} ({256 // k}²): {evaluate(PooledResidual(net, k), data, cfg)['nme2d_balanced']:.4f}",
              flush=True)


if __name__ == "__main__":
    main()
