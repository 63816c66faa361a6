"""Pseudo-label the AFLW training faces: teacher fits refined against the 21 annotated points.

Writes an ``.npz`` with, per face: image name, teacher parameters, refined parameters (both for
the 120×120 crop), the 21 points in crop pixels, and yaw; prints label quality (21-point error of
the fits before/after refinement, by yaw bin).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from prnet.bfm import load_bfm
from prnet.train.teacher import load_teacher
from prnet.train.labels import (
    AFLW21_VERTICES,
    crop_vertices,
    refine_params,
    roi_matrix,
    run_teacher,
)


def point_error(bfm, params, pts, size):
    """Mean 21-point error per face, % of the crop size."""
    V = crop_vertices(bfm, params, AFLW21_VERTICES)[..., :2]
    vis = (pts >= 0).all(-1)
    d = np.linalg.norm(V - pts, axis=-1)
    return (d * vis).sum(1) / np.maximum(vis.sum(1), 1) / size * 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", default="pack/labels.npz")
    ap.add_argument("--prior", type=float, default=3.0)
    ap.add_argument("--pose-prior", type=float, default=1.0)
    ap.add_argument("--limit", type=int, default=None, help="only the first N faces (tests)")
    args = ap.parse_args()
    shared = Path(args.shared)
    ann = np.load(shared / "data/aflw-train/annotations.npz")
    roi = ann["roi_box"].astype(np.float64)
    keep = np.abs((roi[:, 3] - roi[:, 1]) - (roi[:, 2] - roi[:, 0])) <= 1  # drop border-clipped crops
    idx = np.flatnonzero(keep)[: args.limit]
    names = ann["image"][idx]
    crops = np.stack([cv2.imread(str(shared / "data/aflw-train/images" / n))[..., ::-1]
                      for n in tqdm(names, desc="read crops")])
    teacher = load_teacher(shared / "teacher/3ddfa_v2")
    params = run_teacher(teacher, crops)
    std = teacher.param_std.numpy().astype(np.float64)
    pts = ann["pts21"][idx].transpose(0, 2, 1).astype(np.float64)
    vis = (pts >= 0).all(-1, keepdims=True)
    M = np.stack([roi_matrix(r) for r in roi[idx]])
    pc = np.einsum("bij,bkj->bki", M[:, :, :2], pts) + M[:, None, :, 2]
    pc = np.where(vis, pc, -1.0)
    bfm = load_bfm()
    refined = np.concatenate([
        refine_params(bfm, params[i : i + 2048], pc[i : i + 2048], std,
                      prior=args.prior, pose_prior=args.pose_prior)[0]
        for i in tqdm(range(0, len(params), 2048), desc="refine")
    ])
    yaw = np.abs(ann["yaw_deg"][idx])
    e0, e1 = point_error(bfm, params, pc, 120), point_error(bfm, refined, pc, 120)
    print("21-point error, % of crop side (teacher -> refined):")
    for lo, hi in ((0, 30), (30, 60), (60, 90.1)):
        s = (yaw >= lo) & (yaw < hi) if lo == 0 else (yaw > lo) & (yaw <= hi)
        print(f"  yaw {lo:>2}-{int(hi)}: n={s.sum():5d}  {e0[s].mean():.3f} -> {e1[s].mean():.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, image=names, teacher=params, refined=refined, pts21=pc.astype(np.float32),
             yaw=yaw.astype(np.float32))
    print(f"wrote {args.out}: {len(names)} faces")


if __name__ == "__main__":
    main()
