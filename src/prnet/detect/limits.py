"""What a face detector may report: size limits and box sanity checks.

BlazeFace letterboxes every image into its 128-px (short range) or 192-px (full range) input,
so a 10×10 image is blown up more than tenfold and its pixels become smooth blobs on which the
networks fire at scores 0.5-0.68 (13 "faces" in 20 noise images of 8-40 px). The limits below
turn that into "no face"; they were chosen with ``research/detector_false_positives.py``
(figures in research/README.md):

* :data:`MIN_FACE_SIZE`: a detection box whose shorter side is below it (pixels of the
  original image) is dropped. The smallest true face box on the 400 AFLW2000-3D dev images and
  1,930 faces-extra photos is 44 px; dev faces scaled down to a 16-px landmark box are still
  found (boxes of 17-20 px) while 3/4 of the noise detections are 1-15 px.
* :data:`MIN_IMAGE_SIDE`: an image whose shorter side is below it gives no face at all (the
  smallest face the detector reports needs at least that much image).
* :data:`MAX_OUTSIDE`: a box with more than this fraction of its area outside the image is
  dropped (true faces cut by the border reach 0.45 on dev; beyond that the network is
  extrapolating a face from the image edge).
"""

from __future__ import annotations

import numpy as np

#: Smallest detection box side (px of the original image) reported as a face.
MIN_FACE_SIZE: int = 16
#: Smallest image side (px) in which faces are looked for; smaller images give no face.
MIN_IMAGE_SIDE: int = MIN_FACE_SIZE
#: Largest fraction of a box's area that may lie outside the image.
MAX_OUTSIDE: float = 0.6


def image_too_small(shape: tuple[int, ...], min_side: int = MIN_IMAGE_SIDE) -> bool:
    """True if an image of ``shape`` (H, W, ...) is shorter than ``min_side`` on either side."""
    return min(int(shape[0]), int(shape[1])) < min_side


def outside_fraction(boxes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(K,) fraction of each box's area (``boxes`` (K, 4) x0 y0 x1 y1, pixel centres at
    integers) outside an image of ``shape`` (H, W, ...), whose edges are at -0.5 and W-0.5."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    h, w = int(shape[0]), int(shape[1])
    lo = np.maximum(boxes[:, :2], -0.5)
    hi = np.minimum(boxes[:, 2:], [w - 0.5, h - 0.5])
    inside = np.clip(hi - lo, 0, None).prod(1)
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(1)
    return np.where(area > 0, 1.0 - inside / np.maximum(area, 1e-12), 1.0)


def plausible_boxes(
    boxes: np.ndarray,
    shape: tuple[int, ...],
    min_face: float = MIN_FACE_SIZE,
    max_outside: float = MAX_OUTSIDE,
) -> np.ndarray:
    """(K,) bool: which of ``boxes`` (K, 4) in an image of ``shape`` may be reported as faces
    (shorter side at least ``min_face`` px, at most ``max_outside`` of the area outside)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    side = (boxes[:, 2:] - boxes[:, :2]).min(1)
    finite = np.isfinite(boxes).all(1)
    return finite & (side >= min_face) & (outside_fraction(boxes, shape) <= max_outside)
