"""``viz``: drawings over the image, ``<base>_viz_<name>.png`` for each of :data:`DRAWINGS`.

By default each drawing covers the face's output region
(:func:`prnet.outputs.regions.output_region`) and the image also gets one combined full-frame
``<stem>_viz.jpg`` (:func:`prnet.outputs.regions.combined_drawing`, written by
:func:`prnet.outputs.export_image`); with ``full_frame`` each drawing covers the whole image
(:data:`DRAWINGS`, Pillow's PNG defaults, as before region outputs).
"""

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
from prnet.outputs.encode import DRAWING_PNG_LEVEL, write_png
from prnet.outputs.regions import REGION_DRAWINGS, draw_region, output_region

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
    ``_viz_depth.png`` and ``_viz_mesh.png`` (of the face's region, or of the whole image with
    ``options.full_frame``)."""
    if options.full_frame:
        return [write_image(named(base, f"_viz_{name}.png"), draw(face))
                for name, draw in DRAWINGS.items()]
    region = output_region(face, options)
    return [write_png(named(base, f"_viz_{name}.png"), draw_region(face, name, region),
                      DRAWING_PNG_LEVEL) for name in REGION_DRAWINGS]
