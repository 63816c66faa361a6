"""Does the network care how sharp its input is? (It trains on 120-px AFLW crops upsampled ~2×.)

Each dev crop (256², ground-truth landmark box, from the pack) is reduced to SIDE² by area
averaging and brought back to 256² bilinearly before the network; prints the dev NME per SIDE.

    python research/resolution_probe.py [--pack pack] [--weights W] 256 200 160 128 96
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from prnet.models.weights import load_model
from prnet.train.data import load_pack
from prnet.train.loop import DevSet, TrainConfig, evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sides", type=int, nargs="+")
    ap.add_argument("--pack", default="pack")
    ap.add_argument("--model", default=None)
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    dev = DevSet(load_pack(args.pack)["dev"], None, "cpu")
    sharp = dev.x
    model = load_model(args.model, args.weights, "cpu").eval()
    print("| side | 2D 0-30 / 30-60 / 60-90 | 2D balanced | 3D balanced |\n|---|---|---|---|")
    for side in args.sides:
        x = sharp.float()
        if side < x.shape[-1]:
            x = F.interpolate(F.interpolate(x, size=(side, side), mode="area"), size=x.shape[-2:],
                              mode="bilinear", align_corners=False)
        dev.x = x.round().clamp(0, 255).to(torch.uint8)
        r = evaluate(model, dev, TrainConfig(device="cpu"))
        print(f"| {side} | {r['nme2d_0-30']:.2f} / {r['nme2d_30-60']:.2f} / {r['nme2d_60-90']:.2f} | "
              f"{r['nme2d_balanced']:.3f} | {r['nme3d_balanced']:.3f} |")


if __name__ == "__main__":
    main()
