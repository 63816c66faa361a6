"""Image files of the region outputs, written with measured encoder settings (README,
"PNG and JPEG settings"): OpenCV's encoders, atomically; and the decimals of the OBJ outputs
(README, "Output sizes").

The full-frame outputs (``--full-frame``) keep :func:`prnet.io.write_image` (Pillow defaults),
so their bytes do not change.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from prnet.errors import PRNetError
from prnet.io._atomic import atomic_open

__all__ = ["COMBINED_JPEG_QUALITY", "DEPTH_PNG_LEVEL", "DRAWING_PNG_LEVEL", "OBJ_COLOR_DECIMALS",
           "OBJ_FRONTAL_DECIMALS", "OBJ_PIXEL_DECIMALS", "OBJ_UV_DECIMALS", "write_jpeg",
           "write_png"]

#: zlib level of the per-face region drawings (``_viz_*.png``).
DRAWING_PNG_LEVEL = 1
#: zlib level of the 16-bit depth PNG (``_depth.png``).
DEPTH_PNG_LEVEL = 1
#: JPEG quality of the combined full-frame drawing (``<stem>_viz.jpg``).
COMBINED_JPEG_QUALITY = 90
#: Decimals of OBJ coordinates in image pixels (``.obj``, ``_tex.obj``): 0.005 px at most.
OBJ_PIXEL_DECIMALS = 2
#: Decimals of frontal OBJ coordinates (canonical frame, a face about 16 units wide): 0.00005.
OBJ_FRONTAL_DECIMALS = 4
#: Decimals of OBJ vertex colours in [0, 1]: 0.0005 at most (0.13 of an 8-bit step).
OBJ_COLOR_DECIMALS = 3
#: Decimals of OBJ texture coordinates ``vt``: 0.000005 at most (0.02 texel at 4096²).
OBJ_UV_DECIMALS = 5


def _encode(ext: str, array: np.ndarray, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(ext, array, params)
    if not ok:
        raise PRNetError(f"OpenCV could not encode a {array.shape} {array.dtype} image as {ext}")
    return buf.tobytes()


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return rgb[:, :, ::-1] if rgb.ndim == 3 else rgb


def write_png(path: str | Path, image: np.ndarray, level: int = DRAWING_PNG_LEVEL) -> Path:
    """Write an RGB uint8 (H, W, 3) or grey uint8/uint16 (H, W) image as PNG with zlib
    ``level`` (0-9)."""
    data = _encode(".png", _bgr(np.asarray(image)), [cv2.IMWRITE_PNG_COMPRESSION, int(level)])
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_jpeg(path: str | Path, rgb: np.ndarray, quality: int = COMBINED_JPEG_QUALITY) -> Path:
    """Write an RGB uint8 (H, W, 3) image as JPEG with ``quality`` (0-100)."""
    data = _encode(".jpg", _bgr(np.asarray(rgb)), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)
