"""Reduced JPEG decoding for the detector (Pillow ``draft``) on a large photo: decode and
detection times, and how far the boxes and the 68 landmarks move when the detector sees the
photo at 1/2 or 1/4 scale while the crops still come from the full decode (README "Output
sizes", last paragraph: the reason large JPEGs are decoded in full).

Usage: ``PYTHONPATH=src python research/jpeg_draft_decode.py BIG.jpg [--repeats 3]`` (e.g. the
8000×3888 photo of three scaled astronauts built in the README's measurement).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from PIL import Image

from prnet import PRN
from prnet.io import read_image


def _best(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def _draft(path: str, k: int) -> np.ndarray:
    with Image.open(path) as im:
        im.draft("RGB", (im.width // k, im.height // k))
        return np.asarray(im.convert("RGB"))


def _scaled(d, k: int):
    """A detection on the 1/k image in full-image pixels (pixel centres at integers)."""
    kp = None if d.keypoints is None else (d.keypoints + 0.5) * k - 0.5
    return dataclasses.replace(d, box=(d.box + 0.5) * k - 0.5, keypoints=kp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("image")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    prn = PRN(device="cpu")
    t_full, full = _best(lambda: read_image(args.image), args.repeats)
    t_det, dets = _best(lambda: prn.detect(full), args.repeats)
    plans = prn.plan(dets, image_shape=full.shape[:2])
    ref = prn.faces(full, plans, prn.posmaps(full, plans))
    print(f"full decode {full.shape[1]}x{full.shape[0]}: {t_full:.3f} s CPU; "
          f"detector on it: {t_det:.3f} s; {len(ref)} faces")
    for k in (2, 4, 8):
        t_small, small = _best(lambda k=k: _draft(args.image, k), args.repeats)
        t_sdet, sdets = _best(lambda small=small: prn.detect(small), args.repeats)
        print(f"1/{k}: draft decode {small.shape[1]}x{small.shape[0]} {t_small:.3f} s, "
              f"detector {t_sdet:.3f} s, {len(sdets)} faces")
        if len(sdets) != len(ref):
            continue
        plans = prn.plan([_scaled(d, k) for d in sdets], image_shape=full.shape[:2])
        got = prn.faces(full, plans, prn.posmaps(full, plans))
        for i, (a, b) in enumerate(zip(ref, got, strict=True)):
            dl = np.linalg.norm(a.landmarks[:, :2] - b.landmarks[:, :2], axis=1)
            print(f"  face {i}: box moves {np.abs(a.box - b.box).max():.2f} px, landmarks "
                  f"max {dl.max():.2f} px, mean {dl.mean():.3f} px")


if __name__ == "__main__":
    main()
