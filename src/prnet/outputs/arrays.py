"""Every array of a face, as stored by the ``npz`` and ``mat`` outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from prnet.pipeline import FaceResult

__all__ = ["COLOR_GRID", "FRONTAL_GRID", "PIXEL_GRID", "face_arrays"]

#: Image-pixel arrays (``vertices``, ``posmap``) are stored rounded to 1/64 px (0.008 px at
#: most). The grids are powers of two: the low mantissa bits of the float32 values become
#: zeros, which zlib compresses (README, "Output sizes").
PIXEL_GRID = 2.0**-6
#: ``frontal_vertices`` (canonical frame, a face about 16 units wide): rounded to 1/4096.
FRONTAL_GRID = 2.0**-12
#: ``colors`` in [0, 1]: rounded to 1/1024 (0.0005 at most, 0.13 of an 8-bit step).
COLOR_GRID = 2.0**-10


def snap(values: np.ndarray, grid: float) -> np.ndarray:
    """``values`` rounded to the nearest multiple of ``grid`` (a power of two), as float32."""
    return (np.round(np.asarray(values, np.float64) / grid) * grid).astype(np.float32)


def face_arrays(face: FaceResult) -> dict[str, np.ndarray]:
    """Every array of a face, as stored in the ``.npz`` and ``.mat`` files.

    Image-pixel coordinates (y down), triangles 0-based:

    ``vertices`` (N, 3) float32, ``colors`` (N, 3) float32 in [0, 1], ``triangles`` (M, 3)
    int32, ``uv`` (N, 2) texel (u, v) in the 256×256 UV map, ``visibility`` (N,) bool,
    ``landmarks`` (68, 3), ``landmark_visibility`` (68,) bool, ``pose`` (3,) yaw, pitch,
    roll in degrees, ``camera_matrix`` (3, 4) (canonical y-up → y-up image frame, see
    :class:`prnet.geometry.pose.Pose`), ``frontal_vertices`` (N, 3) canonical y-up frame,
    ``box`` (4,), ``score`` (), ``crop_matrix`` (2, 3) image → 256² crop, ``posmap`` (256,
    256, 3) float32 UV position map, ``image_size`` (2,) height, width.

    ``vertices``, ``posmap``, ``frontal_vertices`` and ``colors`` are rounded to
    :data:`PIXEL_GRID`, :data:`FRONTAL_GRID` and :data:`COLOR_GRID`; the other arrays are
    exact.
    """
    p = face.pose
    h, w = face.image_shape
    return {
        "vertices": snap(face.vertices, PIXEL_GRID),
        "colors": snap(face.colors, COLOR_GRID),
        "triangles": np.asarray(face.triangles, np.int32),
        "uv": np.asarray(face.uv, np.float32),
        "visibility": np.asarray(face.visibility, bool),
        "landmarks": np.asarray(face.landmarks, np.float32),
        "landmark_visibility": np.asarray(face.landmark_visibility, bool),
        "pose": np.array([p.yaw, p.pitch, p.roll], np.float64),
        "camera_matrix": np.asarray(p.camera_matrix, np.float64),
        "frontal_vertices": snap(face.frontal_vertices, FRONTAL_GRID),
        "box": np.asarray(face.box, np.float32),
        "score": np.float32(face.score),
        "crop_matrix": np.asarray(face.crop_matrix, np.float64),
        "posmap": snap(face.posmap, PIXEL_GRID),
        "image_size": np.array([h, w], np.int64),
    }
