"""Measure face-detector recall, speed and box placement on the shared data sets.

Recall = fraction of images with at least one face found. On the AFLW2000-3D dev split (400
images) the detection that overlaps the ground-truth 68-landmark box most (``pt3d_68`` x, y
min/max) is compared with it: IoU, centre offset and size ratio (both relative to the
landmark box size). ``ms/img`` is the mean wall time of ``detector.detect(image)`` (one
image at a time, image decoding excluded) on the chosen device.

Usage: ``python research/detector_recall.py [--detectors blazeface blazeface_short ...]
[--no-limits]`` (``--no-limits``: without the detector's size limits and noise check).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import cv2
import numpy as np
import scipy.io as sio
import torch

from prnet.detect import FaceDetector, available_detectors, get_detector
from prnet.detect.blazeface import box_iou

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def landmark_box(mat: Path) -> np.ndarray:
    """(4,) x0 y0 x1 y1 of the 68 ground-truth landmarks."""
    pts = sio.loadmat(str(mat))["pt3d_68"][:2]
    return np.concatenate([pts.min(1), pts.max(1)]).astype(np.float32)


def timed(det: FaceDetector, images: list[np.ndarray]) -> tuple[list[list], float]:
    """Detections of each image and the mean milliseconds per image."""
    det.detect(images[0])  # warm-up
    out, total = [], 0.0
    for im in images:
        t = time.perf_counter()
        out.append(det.detect(im))
        total += time.perf_counter() - t
    return out, 1000 * total / len(images)


def grids(
    dev: list[np.ndarray], gts: np.ndarray, k: int, cell: int = 256
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k×k mosaics of dev images (each resized to ``cell`` px) with their landmark boxes: a
    stand-in for group photos with small faces (one mosaic per k² images, at most 12)."""
    out = []
    for start in range(0, min(len(dev) - k * k + 1, 12 * k * k), k * k):
        canvas = np.zeros((k * cell, k * cell, 3), np.uint8)
        boxes = []
        for n in range(k * k):
            im, (r, c) = dev[start + n], divmod(n, k)
            canvas[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = cv2.resize(
                im, (cell, cell), interpolation=cv2.INTER_AREA
            )
            scale = np.array([cell / im.shape[1], cell / im.shape[0]] * 2, np.float32)
            boxes.append(gts[start + n] * scale + np.array([c * cell, r * cell] * 2))
        out.append((canvas, np.stack(boxes)))
    return out


def face_recall(det: FaceDetector, mosaics: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Fraction of mosaic faces matched by a detection with IoU >= 0.3."""
    found = total = 0
    for image, boxes in mosaics:
        dets = det.detect(image)
        if dets:
            found += int((box_iou(boxes, np.stack([d.box for d in dets])).max(1) >= 0.3).sum())
        total += len(boxes)
    return found / total if total else float("nan")


def placement(dets: list[list], gts: np.ndarray) -> dict[str, float]:
    """Mean IoU / centre offset / size ratio of the best-overlapping detection per image."""
    rows = []
    for found, gt in zip(dets, gts):
        if not found:
            continue
        boxes = np.stack([d.box for d in found])
        b = boxes[int(box_iou(boxes, gt[None])[:, 0].argmax())]
        gsize = gt[2:] - gt[:2]
        offset = ((b[:2] + b[2:]) - (gt[:2] + gt[2:])) / 2 / gsize
        ratio = (b[2:] - b[:2]) / gsize
        rows.append([box_iou(b[None], gt[None])[0, 0], *offset, *ratio])
    r = np.array(rows) if rows else np.full((1, 5), np.nan)
    keys = ["iou", "dx", "dy", "w_ratio", "h_ratio"]
    hit = float(np.sum(r[:, 0] >= 0.3) / len(gts)) if rows else 0.0
    return dict(zip(keys, r.mean(0))) | {"iou_min": float(r[:, 0].min()), "hit": hit}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", nargs="+", default=list(available_detectors()))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N of each set")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--no-limits", action="store_true",
                    help="turn off the size limits and box / noise checks (prnet.detect.limits)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    dev_dir, extra_dir = args.data / "aflw2000-3d-dev", args.data / "faces-extra" / "images"
    dev_files = sorted(dev_dir.glob("*.jpg"))
    extra_files = sorted(extra_dir.glob("*.jpg"))
    if args.limit:
        dev_files, extra_files = dev_files[: args.limit], extra_files[: args.limit]
    bins = {}
    if (dev_dir / "index.csv").is_file():
        with open(dev_dir / "index.csv") as f:
            bins = {r["image"]: r["yaw_bin"] for r in csv.DictReader(f)}
    dev = [read_rgb(p) for p in dev_files]
    extra = [read_rgb(p) for p in extra_files]
    gts = np.stack([landmark_box(p.with_suffix(".mat")) for p in dev_files])
    mosaics = {k: grids(dev, gts, k) for k in (3, 6)}
    print(
        f"dev: {len(dev)} images ({dev_dir}); extra: {len(extra)} images ({extra_dir}); "
        f"mosaics: {', '.join(f'{len(m)} of {k}x{k}' for k, m in mosaics.items())}"
    )

    head = (
        f"{'detector':<16} {'dev recall':>10} {'0-30':>6} {'30-60':>6} {'60-90':>6} "
        f"{'extra recall':>12} {'ms/img dev':>10} {'ms/img extra':>12} {'multi':>5} "
        f"{'3x3':>5} {'6x6':>5} | "
        f"{'IoU':>5} {'minIoU':>6} {'IoU>.3':>6} {'dx':>6} {'dy':>6} {'w/gt':>5} {'h/gt':>5}"
    )
    lines = []
    for name in args.detectors:
        det = get_detector(name, device=args.device)
        if args.no_limits:
            det.min_face_size, det.min_image_side, det.max_outside = -np.inf, 0, np.inf
            det.min_correlation = -np.inf
        d_dets, d_ms = timed(det, dev)
        e_dets, e_ms = timed(det, extra)
        hit = np.array([bool(d) for d in d_dets])
        by_bin = [
            hit[[bins.get(p.name) == b for p in dev_files]] for b in ("0-30", "30-60", "60-90")
        ]
        bin_txt = " ".join(f"{h.mean():6.3f}" if h.size else "   n/a" for h in by_bin)
        multi = sum(len(d) > 1 for d in d_dets + e_dets)
        e_rec = np.mean([bool(d) for d in e_dets]) if e_dets else float("nan")
        p = placement(d_dets, gts)
        g3, g6 = (face_recall(det, mosaics[k]) for k in (3, 6))
        place = " ".join(
            f"{p[k]:{fmt}}"
            for k, fmt in [
                ("iou", "5.3f"),
                ("iou_min", "6.3f"),
                ("hit", "6.3f"),
                ("dx", "+6.3f"),
                ("dy", "+6.3f"),
                ("w_ratio", "5.3f"),
                ("h_ratio", "5.3f"),
            ]
        )
        lines.append(
            f"{name:<16} {hit.mean():10.3f} {bin_txt} {e_rec:12.3f} {d_ms:10.1f} {e_ms:12.1f} "
            f"{multi:5d} {g3:5.3f} {g6:5.3f} | {place}"
        )
        print(lines[-1], flush=True)
    print()
    print(head)
    print("\n".join(lines))
    print(
        "3x3, 6x6: fraction of faces found in mosaics of 256-px dev images (768 / 1536 px, small"
        " faces); multi: images with >1 detection; minIoU: worst best-box IoU; IoU>.3: fraction"
        " of dev images whose best box has IoU >= 0.3 with the landmark box; dx, dy: (det centre"
        " - gt centre) / gt size; w/gt, h/gt: det size / gt landmark-box size (means over dev"
        " images with a face)"
    )


if __name__ == "__main__":
    main()
