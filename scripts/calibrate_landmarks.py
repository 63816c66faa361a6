"""Calibrate the 68 landmark texels to AFLW2000-3D's landmark convention (``assets/landmark_texels.npz``).

The labels this project trains on place the 68 landmarks on the BFM's keypoint vertices of fits
refined against AFLW's 21 points; AFLW2000-3D (and 300W-LP, on which the original PRNet trained)
draws them with a systematic difference — largest on the jaw contour and the brows (see
MODEL_CARD.md, "What limits accuracy most"). The position map is a dense surface, so a landmark
can be read at any texel: for each landmark independently (the 68-point NME is a mean over
points), this picks the texel within ±WINDOW of the BFM keypoint texel that minimises the
yaw-balanced mean 2D error of the network's predictions on the dev crops (ground-truth box);
left/right pairs move as mirror images (midline points symmetrically), 2 × fewer choices.

It is fitted on the dev split, so it is judged by K-fold cross-validation there (texels chosen on
K−1 folds, scored on the held-out fold), printed beside the BFM texels and the in-sample fit.

    python scripts/calibrate_landmarks.py [--pack pack] [--weights W] [--window 6] [--folds 10] [--write]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from prnet.eval.metrics import YAW_BIN_LABELS, nme_68, summarize, yaw_bins
from prnet.models.weights import load_model
from prnet.train.data import load_pack
from prnet.train.loop import DevSet, texel_points
from prnet.uv.layout import UVLayout, default_landmark_texels_path, load_layout


def candidate_points(model: torch.nn.Module, dev: DevSet, cand: np.ndarray, batch: int = 8) -> np.ndarray:
    """(B, 68, C, 3) image-coordinate points at the candidate texels ``cand`` (68, C, 2) of each
    dev crop's predicted position map."""
    return texel_points(model, dev, cand, batch)


def mirror_tables(layout: UVLayout, offs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 68-landmark left/right permutation (through the layout's symmetry map) and, per
    candidate offset (du, dv), the index of its mirror (−du, dv) — the UV unwrap is symmetric."""
    k = layout.kpt_uv_bfm.astype(np.int64)
    mirrored = layout.sym_texel.astype(np.int64)[k[:, 1], k[:, 0]]
    perm = np.linalg.norm(mirrored[:, None] - k[None], axis=-1).argmin(1)
    index = {(int(du), int(dv)): i for i, (du, dv) in enumerate(offs)}
    return perm, np.array([index[(-int(du), int(dv))] for du, dv in offs])


def choose(err: np.ndarray, weight: np.ndarray, allowed: np.ndarray, perm: np.ndarray,
           mirror: np.ndarray) -> np.ndarray:
    """Per landmark, the candidate with the least weighted mean error — err (B, 68, C), weight
    (B,) — with left/right pairs moved as mirror images (scored together), so that the landmarks
    of a mirrored face are the mirrored landmarks."""
    score = np.where(allowed, np.einsum("i,ikc->kc", weight / weight.sum(), err), np.inf)
    return (score + score[perm][:, mirror]).argmin(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default="pack")
    ap.add_argument("--model", default=None)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--window", type=int, default=6)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--write", action="store_true", help=f"write {default_landmark_texels_path()}")
    args = ap.parse_args()
    layout = load_layout(landmark_texels="")
    dev = DevSet(load_pack(args.pack)["dev"], None, "cpu")
    model = load_model(args.model, args.weights, "cpu").eval()
    r = args.window
    offs = np.array([(du, dv) for dv in range(-r, r + 1) for du in range(-r, r + 1)])
    cand = np.clip(layout.kpt_uv_bfm[:, None, :].astype(np.int64) + offs[None], 0, 255)  # (68, C, 2)
    allowed = layout.face_mask[cand[..., 1], cand[..., 0]]
    perm, mirror = mirror_tables(layout, offs)
    X = candidate_points(model, dev, cand)
    gt, bins = dev.gt, yaw_bins(dev.yaw)
    norm = np.sqrt(np.prod(gt[..., :2].max(1) - gt[..., :2].min(1), 1))
    err = np.linalg.norm(X[..., :2] - gt[:, :, None, :2], axis=-1) / norm[:, None, None]
    weight = np.zeros(len(gt))  # the balanced mean: each |yaw| bin counts a third
    for b in range(3):
        weight[bins == b] = 1 / (bins == b).sum()

    def row(name: str, sel: np.ndarray) -> None:
        pred = X[np.arange(len(gt))[:, None], np.arange(68)[None], sel]
        s2, s3 = (summarize(nme_68(pred, gt, d) * 100, bins) for d in (2, 3))
        print(f"| {name} | " + " / ".join(f"{s2[b]:.2f}" for b in YAW_BIN_LABELS)
              + f" | **{s2['balanced']:.3f}** | {s2['mean']:.2f} | {s3['balanced']:.3f} / {s3['mean']:.2f} |")

    print("| landmark texels | 2D 0-30 / 30-60 / 60-90 | 2D balanced | 2D mean | 3D balanced / mean |\n|---|---|---|---|---|")
    centre = np.flatnonzero((offs == 0).all(1))[0]
    row("BFM keypoint texels", np.full((len(gt), 68), centre))
    folds = np.random.default_rng(0).permutation(len(gt)) % args.folds
    sel = np.zeros((len(gt), 68), np.int64)
    for f in range(args.folds):
        sel[folds == f] = choose(err, weight * (folds != f), allowed, perm, mirror)[None]
    row(f"calibrated, {args.folds}-fold cross-validation (held-out folds)", sel)
    best = choose(err, weight, allowed, perm, mirror)
    row("calibrated on all dev images (in-sample)", np.broadcast_to(best, (len(gt), 68)))
    kpt = cand[np.arange(68), best].astype(np.int16)
    moved = np.abs(kpt - layout.kpt_uv_bfm).max(1)
    print(f"\ntexel moves (max |du|, |dv|): median {np.median(moved):.0f}, max {moved.max()}; "
          f"{(moved == r).sum()} landmarks at the window's edge")
    if args.write:
        np.savez_compressed(default_landmark_texels_path(), kpt_uv=kpt, window=np.int16(r))
        print(f"wrote {default_landmark_texels_path()}")


if __name__ == "__main__":
    main()
