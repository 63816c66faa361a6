"""Compose the README pictures from the outputs of ``prnet demo``.

    prnet demo -o /tmp/demo
    python scripts/make_readme_images.py /tmp/demo

writes ``docs/images/demo_overlay.png`` (face crop: landmarks, mesh overlay, depth, UV
texture side by side) and ``docs/images/demo_landmarks.png`` (whole photo: landmarks, dense
points, pose box).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from prnet.io import draw_landmarks, read_image, write_image

HERE = Path(__file__).resolve().parents[1] / "docs" / "images"
PANEL = 240
LABEL_H = 26


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((LABEL_H, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (6, LABEL_H - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (40, 40, 40), 1,
                cv2.LINE_AA)
    return np.vstack([strip, panel])


def _crop(img: np.ndarray, centre: np.ndarray, side: float) -> np.ndarray:
    s = PANEL / side
    m = np.array([[s, 0, PANEL / 2 - s * centre[0]], [0, s, PANEL / 2 - s * centre[1]]])
    return cv2.warpAffine(img, m, (PANEL, PANEL), flags=cv2.INTER_AREA, borderValue=0)


def main(demo: Path) -> None:
    summary = json.loads((demo / "astronaut.json").read_text())
    k = np.array(summary["faces"][0]["landmarks"])
    lo, hi = k[:, :2].min(0), k[:, :2].max(0)
    centre, side = (lo + hi) / 2 - [0, 0.08 * (hi - lo)[1]], 1.45 * float((hi - lo).max())

    def crop(name: str) -> np.ndarray:
        return _crop(read_image(demo / name), centre, side)

    tex = cv2.resize(read_image(demo / "astronaut_0_tex_texture.png"), (PANEL, PANEL),
                     interpolation=cv2.INTER_AREA)
    photo = read_image(summary["image"])
    # all points in one colour here (the _viz_landmarks.png output marks self-occluded ones red)
    marked = _crop(draw_landmarks(photo, k, radius=2, thickness=1), centre, side)
    panels = [
        _label(marked, "68 landmarks"),
        _label(crop("astronaut_0_viz_mesh.png"), "dense mesh (55K vertices)"),
        _label(crop("astronaut_0_viz_depth.png"), "depth"),
        _label(tex, "UV texture"),
    ]
    gap = np.full((PANEL + LABEL_H, 4, 3), 255, np.uint8)
    row = np.hstack([x for p in panels for x in (p, gap)][:-1])
    write_image(HERE / "demo_overlay.png", row)

    size = 300
    full = [read_image(demo / f"astronaut_0_viz_{n}.png") for n in ("landmarks", "dense", "pose")]
    full = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in full]
    gap = np.full((size, 4, 3), 255, np.uint8)
    write_image(HERE / "demo_landmarks.png", np.hstack([full[0], gap, full[1], gap, full[2]]))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/demo"))
