"""How much the dev score depends on the BatchNorm statistics: recompute them on training crops
(forward passes only, cumulative average) and evaluate the dev split as `prnet train` does.

Modes: ``stored`` (the weights' own statistics), ``full`` (the training augmentation, geometric
and photometric), ``geo`` (geometric only), ``noaug`` (PRNet's landmark crop, no augmentation).

    python scripts/bn_recalibration.py --pack pack --n 2048 --batch 128 --modes stored,full
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from prnet.models.weights import load_model
from prnet.train.augment import crop_affines, photometric, warp_images
from prnet.train.data import decode_images, load_pack
from prnet.train.loop import DevSet, TrainConfig, evaluate
from prnet.train.posmap import PosmapRenderer


@torch.no_grad()
def recalibrate(model: torch.nn.Module, images: torch.Tensor, kpts: torch.Tensor, mode: str,
                batch: int, seed: int = 0) -> torch.nn.Module:
    """Replace every BatchNorm's running statistics by their average over the given crops."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all batches
    model.train()
    gen = torch.Generator().manual_seed(seed)
    for i in range(0, len(images), batch):
        src, k = images[i : i + batch].float() / 255, kpts[i : i + batch]
        A = crop_affines(k, gen, augment=mode != "noaug")
        flip = torch.rand(len(k), generator=gen) < 0.5
        reflect = torch.rand(len(k), generator=gen) < 0.7
        x = warp_images(src, A, flip, reflect)
        if mode == "full":
            x = photometric(x, gen)
        model(x.contiguous(memory_format=torch.channels_last))
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default="pack")
    ap.add_argument("--weights", help="default: the bundled weights")
    ap.add_argument("--n", type=int, default=2048, help="training crops to average over")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--modes", default="stored,full")
    ap.add_argument("--seed", type=int, default=0, help="which training crops, and their augmentation")
    args = ap.parse_args()

    pack = load_pack(Path(args.pack))
    tr = pack["train"]
    sel = np.sort(np.random.default_rng(args.seed).choice(len(tr["params"]), args.n, replace=False))
    crops = decode_images(tr["blob"], tr["offsets"])
    images = torch.as_tensor(np.stack([crops[i] for i in sel])).permute(0, 3, 1, 2).contiguous()
    kpts = PosmapRenderer(pack["renderer"]).landmarks(torch.as_tensor(tr["params"][sel]))[..., :2]
    dev, cfg = DevSet(pack["dev"], None, "cpu"), TrainConfig(device="cpu")
    for mode in args.modes.split(","):
        t0 = time.time()
        model = load_model(weights=args.weights).float()
        if mode != "stored":
            recalibrate(model, images, kpts, mode, args.batch, args.seed)
        r = evaluate(model, dev, cfg)
        bins = " / ".join(f"{r[f'nme2d_{k}']:.2f}" for k in ("0-30", "30-60", "60-90"))
        print(f"{mode:7s} dev 2D NME {bins} / balanced {r['nme2d_balanced']:.2f}  ({time.time() - t0:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
