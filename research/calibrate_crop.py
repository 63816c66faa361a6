"""Fit the detector box → crop mapping (``prnet.pipeline.DETECTOR_CROP``) on AFLW2000-3D.

For every dev image the detection that overlaps the ground-truth 68-landmark box most is
compared with the ground-truth landmark crop (PRNet ``run_basics``: centre of the landmark
box, side 1.6 × its mean size). With ``s`` the detector box's mean size (w + h) / 2:

* ``scale``: landmark-crop side / s                              — crop side = scale · s
* ``shift``: (landmark-crop centre y − box centre y) / s            — centre moved down

each taken as the median per |yaw| bin and then averaged over the three bins (the
benchmark's balanced weighting; the dev split is 262/77/61 images, so a plain median would
be fitted to frontal faces, whose boxes are relatively larger). The all-image medians are
printed too; the x offset is printed as a check (the crop has no x shift). With ``--nme`` the 68-point
2D NME of the bundled model is also measured with the landmark crops, the current
``DETECTOR_CROP`` and the fitted one (the network only, the same detections).

Usage: ``python research/calibrate_crop.py [DIR] [--detector blazeface] [--nme]``
(DIR default: ../shared/data/aflw2000-3d-dev).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from prnet.eval.aflw2000 import load_aflw2000
from prnet.eval.metrics import YAW_BIN_LABELS, nme_68, summarize, yaw_bins
from prnet.eval.protocol import best_detection
from prnet.geometry.crop import (
    LANDMARK_SCALE,
    crop_matrix,
    square_from_box,
    square_from_landmarks,
    warp_crop,
)
from prnet.io.image import read_image
from prnet.pipeline.posmaps import uncrop_maps

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "aflw2000-3d-dev"


def placement(box: np.ndarray, gt_box: np.ndarray) -> tuple[float, float, float]:
    """(scale, shift_y, shift_x) that would map ``box`` onto the landmark crop of ``gt_box``."""
    b = np.asarray(box, np.float64)
    g = np.asarray(gt_box, np.float64)
    s = ((b[2] - b[0]) + (b[3] - b[1])) / 2
    side = LANDMARK_SCALE * ((g[2] - g[0]) + (g[3] - g[1])) / 2
    dc = (g[:2] + g[2:]) / 2 - (b[:2] + b[2:]) / 2
    return side / s, dc[1] / s, dc[0] / s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=Path, default=DATA)
    ap.add_argument("--detector", default="blazeface")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--nme", action="store_true", help="also measure the 68-point 2D NME")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from prnet import PRN
    from prnet.pipeline import DETECTOR_CROP

    samples = load_aflw2000(args.dir, limit=args.limit)
    prn = PRN(device="cpu", detector=args.detector)
    t0 = time.perf_counter()
    images, boxes = [], []
    for s in samples:
        img = read_image(s.image_path)
        dets = prn.detector.detect(img)
        k = best_detection(np.array([d.box for d in dets]), s.landmark_box)
        images.append(img if args.nme else None)
        boxes.append(None if k is None else np.asarray(dets[k].box, np.float64))
    found = np.array([b is not None for b in boxes])
    bins = yaw_bins([s.abs_yaw_deg for s in samples])
    print(f"{len(samples)} images, detector {args.detector}: {int((~found).sum())} without an "
          f"overlapping detection ({time.perf_counter() - t0:.0f} s)")
    for i in np.flatnonzero(~found):
        print(f"  failure: {samples[i].image_path.name} (|yaw| {samples[i].abs_yaw_deg:.0f}°)")

    r = np.array([placement(b, s.landmark_box) for b, s in zip(boxes, samples) if b is not None])
    fb = bins[found]
    print(f"\n{'images':<10} {'n':>4} {'scale':>7} {'shift':>7} {'shift_x':>8}   (medians; IQR of scale, shift)")
    groups = [("all", np.ones(len(r), bool))] + [(lab, fb == k) for k, lab in enumerate(YAW_BIN_LABELS)]
    for name, m in groups:
        med = np.median(r[m], 0)
        q = np.percentile(r[m], [25, 75], 0)
        print(f"{name:<10} {int(m.sum()):4d} {med[0]:7.3f} {med[1]:+7.3f} {med[2]:+8.3f}   "
              f"[{q[0, 0]:.3f}, {q[1, 0]:.3f}] [{q[0, 1]:+.3f}, {q[1, 1]:+.3f}]")
    per_bin = np.array([np.median(r[fb == k, :2], 0) for k in range(len(YAW_BIN_LABELS))
                        if np.any(fb == k)])
    scale, shift = (float(v) for v in per_bin.mean(0))
    fitted = {"scale": round(scale, 2), "shift": round(shift, 3)}
    print(f"\nbalanced (mean of the bin medians): scale {scale:.3f}, shift {shift:+.3f}")
    print(f"\nfitted: DETECTOR_CROP = {fitted}   (current: {DETECTOR_CROP})")

    if args.nme:
        gts = np.stack([s.pt3d_68 for s in samples])
        med = {"scale": round(float(np.median(r[:, 0])), 2), "shift": round(float(np.median(r[:, 1])), 3)}
        cands = {"landmark (gt) crop": None, f"current {DETECTOR_CROP}": DETECTOR_CROP,
                 f"fitted {fitted}": fitted, f"all-image median {med}": med}
        print(f"\n68-point 2D NME (%) on the {int(found.sum())} images with a detection:")
        for name, c in cands.items():
            pred = np.full((len(samples), 68, 3), np.nan)
            for i in np.flatnonzero(found):
                if c is None:
                    m = crop_matrix(*square_from_landmarks(samples[i].pt3d_68))
                else:
                    m = crop_matrix(*square_from_box(boxes[i], c["scale"], c["shift"]))
                pm = prn.predict_crops(warp_crop(images[i], m)[None])[0]
                pred[i] = uncrop_maps(prn.layout.landmarks(pm)[None], m[None])[0]
            nme = np.full(len(samples), np.nan)
            nme[found] = nme_68(pred[found], gts[found], 2)
            sm = summarize(nme, bins)
            cells = " ".join(f"{100 * sm[k]:5.2f}" for k in (*YAW_BIN_LABELS, "balanced", "mean"))
            print(f"  {name:<45} bins/balanced/mean: {cells}")


if __name__ == "__main__":
    main()
