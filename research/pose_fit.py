"""Pose fit cost and agreement: the full similarity fit of all ~55K face vertices
(``estimate_pose``) against the layout's prepared template (``PoseTemplate.fit``, what
``FaceResult.pose`` runs) and against evenly spread UV-grid subsets of the vertices.

On the AFLW2000-3D dev split (the first detected face of each image, torch backend, 1 thread)
it prints, per method, the vertices used, the median time per face (from the position map:
gather + fit) and the mean / max |Δyaw|, |Δpitch|, |Δroll| (degrees) against the full fit.

Usage: ``python research/pose_fit.py [--data ../shared/data/aflw2000-3d-dev] [--strides 2 3 4]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from prnet import PRN
from prnet.geometry.pose import PoseTemplate, estimate_pose
from prnet.io import read_image
from prnet.uv.layout import RES

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aflw2000-3d-dev"


def angles(p) -> np.ndarray:
    return np.array([p.yaw, p.pitch, p.roll])


def timed(fn, maps: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Angles of ``fn(posmap)`` for each map and the median ms per call."""
    out, ts = [], []
    for m in maps:
        t = time.perf_counter()
        out.append(angles(fn(m)))
        ts.append(time.perf_counter() - t)
    return np.array(out), float(np.median(ts) * 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--strides", type=int, nargs="+", default=[2, 3, 4, 6, 8])
    args = ap.parse_args()
    torch.set_num_threads(1)
    prn = PRN(device="cpu", backend="torch")
    maps, layout = [], None
    files = sorted(args.data.glob("*.jpg"))
    for f in files:
        faces = prn.reconstruct(read_image(f))
        if faces:
            maps.append(faces[0].posmap)
            layout = faces[0].layout
    fi, can = layout.face_index, layout.canonical
    print(f"{len(maps)} faces in {len(files)} images ({args.data})")
    full, t_full = timed(lambda m: estimate_pose(m.reshape(-1, 3)[fi], can), maps)
    rows = [("full fit (estimate_pose)", len(fi), t_full, full)]
    tpl = PoseTemplate.of(can)
    rows.append(("prepared template (FaceResult.pose)", len(fi),
                 *timed(lambda m: tpl.fit(m.reshape(-1, 3)[fi]), maps)[::-1]))
    u, v = fi % RES, fi // RES
    for k in args.strides:
        sel = np.flatnonzero((u % k == 0) & (v % k == 0))
        sub = PoseTemplate.of(can[sel])
        idx = fi[sel]
        rows.append((f"UV grid, stride {k} texels", len(sel),
                     *timed(lambda m, idx=idx, sub=sub: sub.fit(m.reshape(-1, 3)[idx]), maps)[::-1]))
    print(f"{'method':<38} {'vertices':>8} {'ms/face':>8}   mean |d| yaw pitch roll   "
          "max |d| yaw pitch roll (deg)")
    for name, n, ms, a in rows:
        d = np.abs(a - full)
        d = np.minimum(d, 360 - d)
        mean, mx = d.mean(0), d.max(0)
        print(f"{name:<38} {n:8d} {ms:8.3f}   {mean[0]:.4f} {mean[1]:.4f} {mean[2]:.4f}   "
              f"{mx[0]:.4f} {mx[1]:.4f} {mx[2]:.4f}")


if __name__ == "__main__":
    main()
