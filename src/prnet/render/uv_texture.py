"""The one image → UV-texture sampler: texel (u, v) takes the image's colour at the position
map's (x, y) of that texel (PRNet's texture map).

Used by :meth:`prnet.pipeline.FaceResult.uv_texture`, :mod:`prnet.apps.texture` and
:mod:`prnet.apps.swap`.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import ArrayLike

from prnet.errors import PRNetError

__all__ = ["BORDERS", "masked_texture", "resize_texel_mask", "sample_uv"]

#: ``border`` names of :func:`sample_uv` → OpenCV border modes (outside the image).
BORDERS = {"constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT}


def sample_uv(image: np.ndarray, xy: ArrayLike, size: int | None = None,
              border: str = "constant") -> np.ndarray:
    """Sample ``image`` bilinearly at every texel's image point.

    Args:
        image: (H, W[, C]) image.
        xy: (S, S, 2) image x, y of each texel (e.g. ``posmap[..., :2]``).
        size: side of the texture; when it differs from S the coordinates are first resized
            bilinearly (texel centres to texel centres). Default S.
        border: ``"constant"`` (black outside the image) or ``"reflect"``.

    Returns:
        (size, size[, C]) texture, ``image``'s dtype.

    Raises:
        PRNetError: unknown ``border``.
    """
    if border not in BORDERS:
        raise PRNetError(f"border must be one of {', '.join(BORDERS)}, got {border!r}")
    coords = np.ascontiguousarray(xy, np.float32)
    if size is not None and size != coords.shape[0]:
        coords = cv2.resize(coords, (size, size), interpolation=cv2.INTER_LINEAR)
    return cv2.remap(image, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR,
                     borderMode=BORDERS[border])


def resize_texel_mask(mask: ArrayLike, size: int) -> np.ndarray:
    """(S, S) mask (bool or weights) → (size, size) bool: bilinear resize, then > 0.5."""
    m = np.asarray(mask, np.float32)
    if size != m.shape[0]:
        m = cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR)
    return m > 0.5


def masked_texture(image: np.ndarray, xy: ArrayLike, keep: ArrayLike, size: int) -> np.ndarray:
    """:func:`sample_uv` at ``size``, black where the (S, S) texel mask ``keep`` is off.

    Returns:
        (size, size, C) ``image``'s dtype.
    """
    tex = sample_uv(image, xy, size)
    return tex * resize_texel_mask(keep, size)[..., None].astype(tex.dtype)
