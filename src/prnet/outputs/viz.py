"""``viz``: drawings over the image, ``<base>_viz_<name>.png`` for each of :data:`DRAWINGS`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prnet.io import (
    depth_to_image,
    draw_dense,
    draw_landmarks,
    draw_mesh_overlay,
    draw_pose_box,
    write_image,
)
from prnet.outputs._files import named

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def pose_box(face: FaceResult) -> np.ndarray:
    """The head-pose box over the image, centred on the mean of landmarks 0..26."""
    size = 0.5 * float(np.ptp(face.layout.canonical_kpt[:, 0]))
    centre = np.asarray(face.landmarks)[:27, :2].mean(0)
    return draw_pose_box(face.image, face.pose.image_camera_matrix, center=centre, size=size)


#: Drawing name → function of the face, in writing order.
DRAWINGS: dict[str, Callable[[FaceResult], np.ndarray]] = {
    "landmarks": lambda f: draw_landmarks(f.image, f.landmarks, f.landmark_visibility),
    "dense": lambda f: draw_dense(f.image, f.vertices),
    "pose": pose_box,
    "depth": lambda f: depth_to_image(f.depth(normalize=False)),
    "mesh": lambda f: draw_mesh_overlay(f.image, f.vertices, f.triangles),
}


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>_viz_landmarks.png``, ``_viz_dense.png``, ``_viz_pose.png``,
    ``_viz_depth.png`` and ``_viz_mesh.png``."""
    return [write_image(named(base, f"_viz_{name}.png"), draw(face))
            for name, draw in DRAWINGS.items()]
