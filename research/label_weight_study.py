"""Do annotations near the silhouette bias the refined labels? A study on the dev split.

AFLW annotators mark what they see: on a strongly turned face a point near the silhouette may be
drawn on the outline rather than where its BFM vertex lies. This refines the teacher's dev fits
against the dev images' own 21 AFLW points (as ``prnet train labels`` does for training) with each
point weighted by how much its vertex faces the camera under the teacher's pose (``facing`` = z of
the rotated surface normal, normals from a plane fit to the 600 nearest mean-shape vertices), and
prints, per variant, the labels' 68-point 2D NME by |yaw| bin and the systematic part at 60-90°
(length of the mean per-point offset, x mirrored so all faces turn the same way, % of the box).

    python research/label_weight_study.py --shared ../shared
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from prnet.bfm import load_bfm
from prnet.eval.aflw2000 import load_aflw2000
from prnet.eval.metrics import LANDMARK_GROUPS, YAW_BIN_LABELS, nme_68, summarize, yaw_bins
from prnet.pipeline.posmaps import uncrop_maps
from prnet.train.labels import AFLW21_VERTICES, crop_vertices, fit_samples, refine_params
from prnet.train.teacher import load_teacher, split_params


def point_normals(mean: np.ndarray, idx: np.ndarray, k: int = 600) -> np.ndarray:
    """(K, 3) unit normals (z ≥ 0, towards the face's front) at vertices ``idx`` of a mean shape."""
    tree = cKDTree(mean)
    out = []
    for v in idx:
        _, nn = tree.query(mean[v], k=k)
        q = mean[nn] - mean[nn].mean(0)
        n = np.linalg.eigh(q.T @ q)[1][:, 0]
        out.append(n if n[2] > 0 else -n)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--prior", type=float, default=3.0, help="as `prnet train labels`")
    ap.add_argument("--pose-prior", type=float, default=1.0, help="as `prnet train labels`")
    args = ap.parse_args()
    shared, bfm = Path(args.shared), load_bfm()
    samples = load_aflw2000(shared / "data/aflw2000-3d-dev")
    net = load_teacher(shared / "teacher/3ddfa_v2")
    params, Ms, pts = fit_samples(net, samples)
    std = net.param_std.numpy()
    P, _, _ = split_params(params.astype(np.float64))
    R = P[:, :, :3] / np.linalg.norm(P[:, :, :3], axis=2, keepdims=True)
    facing = np.einsum("bij,kj->bki", R, point_normals(bfm.mean.astype(np.float64), AFLW21_VERTICES))[..., 2]
    gt = np.stack([s.pt3d_68 for s in samples])
    yaw = np.array([np.rad2deg(s.pose[1]) for s in samples])
    bins = yaw_bins(np.abs(yaw))
    norm = np.sqrt(np.prod(gt[..., :2].max(1) - gt[..., :2].min(1), 1))
    annotated = (pts >= 0).all(-1)
    q = np.percentile(facing[bins == 2][annotated[bins == 2]], [5, 10, 25, 50])
    print("facing of the annotated points at 60-90° (5/10/25/50th percentile):", np.round(q, 2))

    def report(name: str, p: np.ndarray) -> None:
        V = crop_vertices(bfm, p, bfm.keypoints)
        L = uncrop_maps(V, Ms)
        s = summarize(nme_68(L, gt, 2) * 100, bins)
        r = (L[..., :2] - gt[..., :2]) / norm[:, None, None] * 100
        r[..., 0] *= np.sign(yaw)[:, None]
        bias = np.linalg.norm(r[bins == 2].mean(0), axis=-1)
        print(f"| {name} | " + " / ".join(f"{s[b]:.2f}" for b in YAW_BIN_LABELS) + f" | {s['balanced']:.3f} | "
              + f"{bias.mean():.2f} | " + " / ".join(f"{bias[sl].mean():.2f}" for sl in LANDMARK_GROUPS.values()) + " |")

    print("\n| labels | 0-30 / 30-60 / 60-90 | balanced | 60-90 bias, all | "
          + " / ".join(LANDMARK_GROUPS) + " |\n|---|---|---|---|---|")
    report("teacher", params)
    variants: dict[str, np.ndarray | None] = {"all points, weight 1 (the shipped labels)": None}
    for th in (0.2, 0.35, 0.5):
        variants[f"weight min(1, facing / {th})"] = np.clip(facing / th, 0, 1)
    for th in (0.1, 0.25):
        variants[f"drop points with facing < {th}"] = (facing >= th).astype(float)
    no_ears = np.ones_like(facing)
    no_ears[:, [12, 16]] = 0
    variants["drop the two ear points"] = no_ears
    for name, w in variants.items():
        ref, _ = refine_params(bfm, params, pts, std, prior=args.prior, pose_prior=args.pose_prior, point_weights=w)
        report(name, ref)


if __name__ == "__main__":
    main()
