"""``prnet train labels``: pseudo-label the AFLW training faces — teacher fits refined against the
21 annotated points.

Writes an ``.npz`` with, per face: image name, teacher parameters, refined parameters (both for
the 120×120 crop), the 21 points in crop pixels, and |yaw|; prints the label quality (21-point
error of the fits before/after refinement, by yaw bin).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prnet.train.shared_data import AFLW_TRAIN, TEACHER, check_limit, require

if TYPE_CHECKING:
    from prnet.bfm import BFM

REFINE_CHUNK = 2048  # faces refined together (memory of the autograd graph)


def point_error(bfm: BFM, params: np.ndarray, pts: np.ndarray, size: int) -> np.ndarray:
    """(B,) mean 21-point error per face, % of the crop size (points < 0 ignored)."""
    from prnet.train.labels import AFLW21_VERTICES, crop_vertices

    V = crop_vertices(bfm, params, AFLW21_VERTICES)[..., :2]
    vis = (pts >= 0).all(-1)
    d = np.linalg.norm(V - pts, axis=-1)
    return (d * vis).sum(1) / np.maximum(vis.sum(1), 1) / size * 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shared", required=True, type=Path, metavar="DIR",
                   help="shared data folder (holds data/aflw-train and teacher/3ddfa_v2)")
    p.add_argument("--out", default="pack/labels.npz", type=Path, metavar="FILE",
                   help="labels file to write (default: pack/labels.npz)")
    p.add_argument("--prior", type=float, default=3.0,
                   help="refinement: Gaussian prior on shape/expression, in units of their std "
                        "(default: 3.0)")
    p.add_argument("--pose-prior", type=float, default=1.0,
                   help="refinement: prior on the similarity correction (default: 1.0)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the first N faces (checks, tests)")


def run(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from prnet.bfm import load_bfm
    from prnet.train.labels import refine_params, roi_matrix, run_teacher
    from prnet.train.teacher import load_teacher

    check_limit("limit", args.limit)
    aflw, teacher_dir = require(args.shared, AFLW_TRAIN / "annotations.npz", TEACHER)
    ann = np.load(aflw)
    roi = ann["roi_box"].astype(np.float64)
    keep = np.abs((roi[:, 3] - roi[:, 1]) - (roi[:, 2] - roi[:, 0])) <= 1  # drop border-clipped crops
    idx = np.flatnonzero(keep)[: args.limit]
    names = ann["image"][idx]
    images = aflw.parent / "images"
    crops = np.stack([cv2.imread(str(images / n))[..., ::-1] for n in tqdm(names, desc="read crops")])
    teacher = load_teacher(teacher_dir)
    params = run_teacher(teacher, crops)
    std = teacher.param_std.numpy().astype(np.float64)
    pts = ann["pts21"][idx].transpose(0, 2, 1).astype(np.float64)
    vis = (pts >= 0).all(-1, keepdims=True)
    M = np.stack([roi_matrix(r) for r in roi[idx]])
    pc = np.einsum("bij,bkj->bki", M[:, :, :2], pts) + M[:, None, :, 2]
    pc = np.where(vis, pc, -1.0)
    bfm = load_bfm()
    refined = np.concatenate([
        refine_params(bfm, params[i : i + REFINE_CHUNK], pc[i : i + REFINE_CHUNK], std,
                      prior=args.prior, pose_prior=args.pose_prior)[0]
        for i in tqdm(range(0, len(params), REFINE_CHUNK), desc="refine")
    ])
    yaw = np.abs(ann["yaw_deg"][idx])
    e0, e1 = point_error(bfm, params, pc, 120), point_error(bfm, refined, pc, 120)
    print("21-point error, % of crop side (teacher -> refined):")
    for lo, hi in ((0, 30), (30, 60), (60, 90.1)):
        s = (yaw >= lo) & (yaw < hi) if lo == 0 else (yaw > lo) & (yaw <= hi)
        change = f"{e0[s].mean():.3f} -> {e1[s].mean():.3f}" if s.any() else "-"
        print(f"  yaw {lo:>2}-{int(hi)}: n={s.sum():5d}  {change}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, image=names, teacher=params, refined=refined, pts21=pc.astype(np.float32),
             yaw=yaw.astype(np.float32))
    print(f"wrote {args.out}: {len(names)} faces")
    return 0
