"""Texel coordinates of the UV position map → pixel coordinates of a UV texture of any size."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from prnet.uv.layout import RES as UV_RES

__all__ = ["UV_RES", "texture_pixels"]


def texture_pixels(uv: ArrayLike, size: int, res: int = UV_RES,
                   dtype: DTypeLike = np.float64) -> np.ndarray:
    """Scale texel (u, v) coordinates of a ``res``² map (e.g. ``FaceResult.uv``) to the pixel
    coordinates of a ``size``² texture.

    Texel centres map to pixel centres: ``u' = (u + 0.5) · size / res − 0.5`` (the convention
    of ``cv2.resize`` and of :func:`prnet.io.write_obj`). Computed in ``dtype``.
    """
    return ((np.asarray(uv, dtype) + 0.5) * (size / res) - 0.5).astype(dtype, copy=False)
