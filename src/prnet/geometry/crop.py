"""Similarity crops of faces to the network input (PRNet conventions) and back-projection."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CROP = 256
LANDMARK_SCALE = 1.6  # crop side / mean(w, h) of a landmark box (PRNet run_basics)
BOX_SCALE = 1.58  # crop side / mean(w, h) of a detector box (PRNet, dlib CNN boxes)
BOX_SHIFT = 0.14  # centre moved down by this × mean(w, h) for detector boxes


def square_from_landmarks(points: np.ndarray, scale: float = LANDMARK_SCALE) -> tuple[np.ndarray, float]:
    """(K, ≥2) landmarks → crop centre (2,) and side: box centre, side ``scale`` × mean(w, h)."""
    p = np.asarray(points, np.float64)[:, :2]
    lo, hi = p.min(0), p.max(0)
    return (lo + hi) / 2, float(scale * (hi - lo).mean())


def square_from_box(
    box: np.ndarray, scale: float = BOX_SCALE, shift: float = BOX_SHIFT
) -> tuple[np.ndarray, float]:
    """Detector box [x0, y0, x1, y1] → crop centre and side (centre shifted down by ``shift``·s)."""
    x0, y0, x1, y1 = np.asarray(box, np.float64)[:4]
    s = ((x1 - x0) + (y1 - y0)) / 2
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2 + shift * s]), float(scale * s)


def crop_matrix(centre: np.ndarray, side: float, out: int = CROP, angle_deg: float = 0.0) -> np.ndarray:
    """2×3 similarity mapping the square (centre, side) onto [0, out−1]² (optionally rotated)."""
    s = (out - 1) / side
    a = np.deg2rad(angle_deg)
    R = s * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    t = (out - 1) / 2 - R @ np.asarray(centre, np.float64)
    return np.concatenate([R, t[:, None]], 1)


@dataclass(frozen=True)
class CropPolicy:
    """How a face box or a landmark set becomes the network's crop: a square of side
    ``scale`` × mean(width, height) of the box, its centre moved down by ``shift`` × that mean
    (boxes only; landmark crops are centred)."""

    scale: float = BOX_SCALE
    shift: float = BOX_SHIFT

    def from_box(self, box: np.ndarray, out: int = CROP) -> np.ndarray:
        """(2, 3) crop matrix for a box ``[x0, y0, x1, y1]``."""
        return crop_matrix(*square_from_box(box, self.scale, self.shift), out=out)

    def from_landmarks(self, points: np.ndarray, out: int = CROP) -> np.ndarray:
        """(2, 3) crop matrix for (K, ≥2) landmarks (their box, centred)."""
        return crop_matrix(*square_from_landmarks(points, self.scale), out=out)


#: PRNet's landmark crop (``run_basics``): the landmarks' box, side 1.6 × mean(w, h), centred.
LANDMARK_CROP = CropPolicy(scale=LANDMARK_SCALE, shift=0.0)


def shift_crop(M: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The crop ``M`` with its window moved by ``offset`` (dx, dy) crop pixels along its own axes."""
    out = np.array(M, np.float64)
    out[:, 2] -= np.asarray(offset, np.float64)
    return out


def matrix_scale(M: np.ndarray) -> float:
    """Isotropic scale of a 2×3 similarity."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(M)[:2, :2]))))


def warp_crop(image: np.ndarray, M: np.ndarray, out: int = CROP) -> np.ndarray:
    """Apply the crop transform (bilinear, zeros outside the image)."""
    return cv2.warpAffine(image, M, (out, out), flags=cv2.INTER_LINEAR, borderValue=0)


def invert(M: np.ndarray) -> np.ndarray:
    """Inverse of a 2×3 affine."""
    return cv2.invertAffineTransform(np.asarray(M, np.float64))


def uncrop_points(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(…, 3) crop-space points → image space: x, y by the inverse transform, z divided by the scale."""
    p = np.asarray(points)
    if p.size == 0:
        return np.zeros(p.shape, np.float32)
    Mi = invert(M)
    m = np.zeros((3, 4))
    m[:2, :2], m[:2, 3], m[2, 2] = Mi[:, :2], Mi[:, 2], 1.0 / matrix_scale(M)
    # one cv2.transform pass: 10x faster than numpy per coordinate on a 256² map
    src = np.ascontiguousarray(p, np.float64 if p.dtype == np.float64 else np.float32)
    return cv2.transform(src.reshape(-1, 1, 3), m).reshape(p.shape).astype(np.float32, copy=False)


def crop_points(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(…, 3) image-space points → crop space (inverse of :func:`uncrop_points`)."""
    p = np.asarray(points, np.float64)
    xy = p[..., :2] @ M[:, :2].T + M[:, 2]
    return np.concatenate([xy, p[..., 2:3] * matrix_scale(M)], -1).astype(np.float32)
