"""What a face detector may report: size limits and box sanity checks.

BlazeFace letterboxes every image into its 128-px (short range) or 192-px (full range) input,
so a 10×10 image is blown up more than tenfold and its pixels become smooth blobs on which the
networks fire at scores 0.5-0.68 (13 "faces" in 20 noise images of 8-40 px). The limits below
turn that into "no face"; they were chosen with ``research/detector_false_positives.py``
(figures in research/README.md):

* :data:`MIN_FACE_SIZE`: a detection box whose shorter side is below it (pixels of the
  original image) is dropped. The smallest true face box on the 400 AFLW2000-3D dev images and
  1,930 faces-extra photos is 44 px; dev faces scaled down to a 20-px landmark box are all
  still found (16 px: 182/200, 199 without the limit), while every detection on uniform or
  Gaussian noise of 8-640 px was 1-15 px.
* :data:`MIN_IMAGE_SIDE`: an image whose shorter side is below it gives no face at all (the
  smallest face the detector reports needs at least that much image).
* :data:`MIN_CORRELATION`: a detection whose box holds no spatial structure (correlation of
  neighbouring grey pixels below it) is dropped: i.i.d. noise at the networks' own resolution
  (96-256 px) still gives short-range "faces" of 46-81 px at 0.52-0.64, with correlations of
  -0.29 to 0.14; every true face box measured (dev, faces-extra, faces scaled to 16-48 px)
  has 0.58 or more.
* :data:`MAX_OUTSIDE`: a box with more than this fraction of its area outside the image is
  dropped (true faces cut by the border reach 0.45 on dev; beyond that the network is
  extrapolating a face from the image edge).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Smallest detection box side (px of the original image) reported as a face.
MIN_FACE_SIZE: int = 16
#: Smallest image side (px) in which faces are looked for; smaller images give no face.
MIN_IMAGE_SIDE: int = MIN_FACE_SIZE
#: Largest fraction of a box's area that may lie outside the image.
MAX_OUTSIDE: float = 0.6
#: Smallest mean lag-1 correlation of the grey pixels inside a box (noise ~0, faces >= 0.58).
MIN_CORRELATION: float = 0.3


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


def pixel_correlation(image: np.ndarray, box: np.ndarray) -> float:
    """Mean lag-1 correlation (x and y) of the grey pixels of ``image`` (H, W, C) inside
    ``box`` (4,) x0 y0 x1 y1: about 0 for i.i.d. noise, close to 1 for photos. 1.0 for a flat
    region; 0.0 when the box holds fewer than 2×2 pixels of the image."""
    h, w = image.shape[:2]
    x0, y0 = (max(0, int(np.floor(v))) for v in box[:2])
    x1, y1 = min(w, int(np.ceil(box[2])) + 1), min(h, int(np.ceil(box[3])) + 1)
    region = image[y0:y1, x0:x1]
    if min(region.shape[:2]) < 2:
        return 0.0
    # the channel sum in float32 (one cv2.transform) and OpenCV's reductions: 12x faster
    # than float64 numpy on a face-sized box (0.1 vs 1.3 ms); the correlation ignores the
    # sum's scale, the flatness threshold is scaled by it
    channels = region.shape[2] if region.ndim == 3 else 1
    region = region.astype(np.float32)
    grey = cv2.transform(region, np.ones((1, channels))) if region.ndim == 3 else region
    mean, std = cv2.meanStdDev(grey)
    var = float(std[0, 0]) ** 2
    if var < 1e-9 * channels**2:
        return 1.0
    grey = grey - np.float32(mean[0, 0])
    cx = float(cv2.mean(cv2.multiply(grey[:, 1:], grey[:, :-1]))[0])
    cy = float(cv2.mean(cv2.multiply(grey[1:], grey[:-1]))[0])
    return (cx + cy) / (2 * var)


def plausible_boxes(
    boxes: np.ndarray,
    shape: tuple[int, ...],
    min_face: float = MIN_FACE_SIZE,
    max_outside: float = MAX_OUTSIDE,
) -> np.ndarray:
    """(K,) bool: which of ``boxes`` (K, 4) in an image of ``shape`` may be reported as faces
    by their geometry (shorter side at least ``min_face`` px, at most ``max_outside`` of the
    area outside the image)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    side = (boxes[:, 2:] - boxes[:, :2]).min(1)
    finite = np.isfinite(boxes).all(1)
    return finite & (side >= min_face) & (outside_fraction(boxes, shape) <= max_outside)


def structured(image: np.ndarray, boxes: np.ndarray,
               min_correlation: float = MIN_CORRELATION) -> np.ndarray:
    """(K,) bool: which of ``boxes`` (K, 4) hold image structure (:func:`pixel_correlation`
    at least ``min_correlation``), i.e. are not on noise."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.array([pixel_correlation(image, b) >= min_correlation for b in boxes], bool)
