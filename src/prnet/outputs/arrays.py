"""Every array of a face, as stored by the ``npz`` and ``mat`` outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from prnet.pipeline import FaceResult

__all__ = ["face_arrays"]


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
    """
    p = face.pose
    h, w = face.image_shape
    return {
        "vertices": np.asarray(face.vertices, np.float32),
        "colors": np.asarray(face.colors, np.float32),
        "triangles": np.asarray(face.triangles, np.int32),
        "uv": np.asarray(face.uv, np.float32),
        "visibility": np.asarray(face.visibility, bool),
        "landmarks": np.asarray(face.landmarks, np.float32),
        "landmark_visibility": np.asarray(face.landmark_visibility, bool),
        "pose": np.array([p.yaw, p.pitch, p.roll], np.float64),
        "camera_matrix": np.asarray(p.camera_matrix, np.float64),
        "frontal_vertices": np.asarray(face.frontal_vertices, np.float32),
        "box": np.asarray(face.box, np.float32),
        "score": np.float32(face.score),
        "crop_matrix": np.asarray(face.crop_matrix, np.float64),
        "posmap": np.asarray(face.posmap, np.float32),
        "image_size": np.array([h, w], np.int64),
    }
