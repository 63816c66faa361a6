"""How much the dev score depends on the BatchNorm statistics: recompute them on training crops
(forward passes only, cumulative average) and evaluate the dev split as `prnet train` does.

Modes: ``stored`` (the weights' own statistics), ``full`` (the training augmentation, geometric
and photometric), ``geo`` (geometric only), ``noaug`` (PRNet's landmark crop, no augmentation).

    python research/bn_recalibration.py --pack pack --n 2048 --batch 128 --modes stored,full
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
                batch: int, seed: int = 0, bf16: bool = False) -> torch.nn.Module:
    """Replace every BatchNorm's running statistics by their average over the given crops
    (optionally with the forward under bf16 autocast, as in GPU training)."""
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
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
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
    ap.add_argument("--bf16", action="store_true", help="recompute under bf16 autocast (as the GPU trained)")
    ap.add_argument("--train-loss", action="store_true",
                    help="also the training loss on 256 other training faces (augmented, and clean crops)")
    args = ap.parse_args()

    pack = load_pack(Path(args.pack))
    tr = pack["train"]
    sel = np.sort(np.random.default_rng(args.seed).choice(len(tr["params"]), args.n, replace=False))
    crops = decode_images(tr["blob"], tr["offsets"])
    images = torch.as_tensor(np.stack([crops[i] for i in sel])).permute(0, 3, 1, 2).contiguous()
    kpts = PosmapRenderer(pack["renderer"]).landmarks(torch.as_tensor(tr["params"][sel]))[..., :2]
    dev, cfg = DevSet(pack["dev"], None, "cpu"), TrainConfig(device="cpu")
    held_out = _loss_batches(pack, crops, exclude=sel) if args.train_loss else None
    for mode in args.modes.split(","):
        t0 = time.time()
        model = load_model(weights=args.weights).float()
        if mode != "stored":
            recalibrate(model, images, kpts, mode, args.batch, args.seed, args.bf16)
        r = evaluate(model, dev, cfg)
        bins = " / ".join(f"{r[f'nme2d_{k}']:.2f}" for k in ("0-30", "30-60", "60-90"))
        loss = "" if held_out is None else "; training loss augmented {:.3f}, clean {:.3f}".format(
            *(_loss(model, x, y, held_out[2]) for x, y in held_out[:2]))
        print(f"{mode:7s} dev 2D NME {bins} / balanced {r['nme2d_balanced']:.2f}{loss}  ({time.time() - t0:.0f} s)",
              flush=True)


def _loss_batches(pack, crops, exclude: np.ndarray, n: int = 256):
    """(augmented x, y), (clean x, y) and the loss weights for ``n`` training faces not in ``exclude``."""
    from prnet.uv.layout import load_layout

    tr = pack["train"]
    rest = np.setdiff1d(np.arange(len(tr["params"])), exclude)
    sel = np.sort(np.random.default_rng(7).choice(rest, n, replace=False))
    src = torch.as_tensor(np.stack([crops[i] for i in sel])).permute(0, 3, 1, 2).float() / 255
    renderer = PosmapRenderer(pack["renderer"])
    params = torch.as_tensor(tr["params"][sel])
    kpts = renderer.landmarks(params)[..., :2]
    gen = torch.Generator().manual_seed(3)
    A, flip = crop_affines(kpts, gen), torch.rand(n, generator=gen) < 0.5
    aug = (photometric(warp_images(src, A, flip, torch.rand(n, generator=gen) < 0.7), gen), renderer(params, A, flip))
    A0 = crop_affines(kpts, gen, augment=False)
    clean = (warp_images(src, A0, None, torch.ones(n, dtype=torch.bool)), renderer(params, A0, None))
    w = torch.as_tensor(load_layout().weight_mask)
    return aug, clean, (w / w.mean())[None, None]


@torch.no_grad()
def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> float:
    """The training loss (UV-weighted L1, px) in eval mode."""
    model.eval()  # evaluate() leaves the model in training mode
    total = sum(float(((model(x[i : i + 16].contiguous(memory_format=torch.channels_last)) - y[i : i + 16]).abs()
                       * w).mean()) * len(x[i : i + 16]) for i in range(0, len(x), 16))
    return total / len(x)


if __name__ == "__main__":
    main()
