"""Encode time and size of the region outputs at each PNG compression level (OpenCV
``IMWRITE_PNG_COMPRESSION``, Pillow ``compress_level``) and JPEG quality 90-95 for the combined
full-frame drawing; the figures behind ``prnet.outputs.encode`` (README, "PNG and JPEG settings").

Usage: ``python research/output_encoding.py IMAGE [--repeats 3]`` (e.g. the 8000×3888 photo of three
scaled astronauts built in the README's measurement).
"""

from __future__ import annotations

import argparse
import io
import time

import cv2
import numpy as np
from PIL import Image

from prnet import PRN
from prnet.io import read_image
from prnet.outputs.regions import (
    REGION_DRAWINGS,
    combined_drawing,
    depth_encoding,
    draw_region,
    encode_depth,
    output_region,
)


def _best(fn, repeats: int) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(repeats):
        t = time.perf_counter()
        size = fn()
        best = min(best, time.perf_counter() - t)
    return best, size


def _cv(a: np.ndarray, ext: str, params: list[int]) -> int:
    b = a[:, :, ::-1] if a.ndim == 3 else a
    return len(cv2.imencode(ext, np.ascontiguousarray(b), params)[1])


def _pil(a: np.ndarray, **kw) -> int:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", **kw)
    return buf.tell()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("image")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    img = read_image(args.image)
    faces = PRN(device="cpu").reconstruct(img)
    f = faces[0]
    reg = output_region(f)
    print(f"{len(faces)} faces; face 0 region {reg.width}x{reg.height} of {img.shape[1]}x{img.shape[0]}")
    drawings = {n: draw_region(f, n, reg) for n in REGION_DRAWINGS}
    drawings["depth16"] = encode_depth(f.depth(normalize=False, region=reg), depth_encoding(f))
    print("| output | encoder | level | ms | KB |")
    print("|---|---|---|---|---|")
    for name, a in drawings.items():
        for level in range(10):
            ms, n = _best(lambda a=a, level=level: _cv(a, ".png", [cv2.IMWRITE_PNG_COMPRESSION, level]),
                             args.repeats)
            print(f"| {name} | opencv png | {level} | {ms * 1e3:.1f} | {n / 1024:.0f} |")
        for level in range(10):
            ms, n = _best(lambda a=a, level=level: _pil(a, compress_level=level), args.repeats)
            print(f"| {name} | pillow png | {level} | {ms * 1e3:.1f} | {n / 1024:.0f} |")
        if name != "depth16":
            for q in (90, 95):
                ms, n = _best(lambda a=a, q=q: _cv(a, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, q]),
                                 args.repeats)
                print(f"| {name} | opencv jpeg | q{q} | {ms * 1e3:.1f} | {n / 1024:.0f} |")
    comb = combined_drawing(faces)
    for q in (90, 92, 95):
        ms, n = _best(lambda q=q: _cv(comb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, q]), 1)
        print(f"| combined | opencv jpeg | q{q} | {ms * 1e3:.1f} | {n / 1024:.0f} |")
    for level in (1, 6):
        ms, n = _best(lambda level=level: _cv(comb, ".png", [cv2.IMWRITE_PNG_COMPRESSION, level]), 1)
        print(f"| combined | opencv png | {level} | {ms * 1e3:.1f} | {n / 1024:.0f} |")
    ms, n = _best(lambda: _pil(comb), 1)
    print(f"| combined | pillow png | default (6) | {ms * 1e3:.1f} | {n / 1024:.0f} |")


if __name__ == "__main__":
    main()
