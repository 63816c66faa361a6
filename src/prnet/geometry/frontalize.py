"""Frontalisation: undo the head pose of an observed face, keeping its own shape."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from prnet.geometry.pose import _FLIP_Y, _as_points, similarity_fit

__all__ = ["frontalize"]


def frontalize(
    vertices_img: ArrayLike,
    canonical: ArrayLike,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    """Remove pose, scale and translation from observed vertices.

    Fits ``observed ≈ s·R·canonical + t`` (observed taken in the y-up frame ``(x, -y, z)``)
    and applies the inverse, ``Rᵀ(observed - t) / s``: the face then looks straight ahead
    (+z) at the canonical size and position, but keeps its own shape and expression.

    Args:
        vertices_img: (N, 3) observed vertices in image coordinates (x right, y down,
            z towards the viewer).
        canonical: (N, 3) corresponding canonical vertices (3DMM frame, y up, facing +z).
        weights: optional (N,) non-negative per-point weights for the fit.

    Returns:
        (N, 3) float64 frontalised vertices in the canonical (y-up) frame.

    Raises:
        InputShapeError, PRNetError: as :func:`prnet.geometry.pose.similarity_fit`.
    """
    observed = _as_points("vertices_img", vertices_img) * _FLIP_Y
    scale, rot, trans = similarity_fit(canonical, observed, weights)
    return (observed - trans) @ rot / scale
