"""Per-face image outputs priced by the face, not by the frame.

A face's ``viz`` drawings and ``depth`` cover its *output region*: the box of pixels its mesh can
cover (:attr:`FaceResult.raster_region`) grown by :data:`MARGIN` of the box's width left and
right and of its height above and below, clipped to the image. Its offset and size
``[x0, y0, width, height]`` are recorded per face in ``<stem>.json`` (``"region"``), so a region
image ``R`` goes back on the frame as ``frame[y0:y0+height, x0:x0+width] = R``. With
``--full-frame`` (``ExportOptions(full_frame=True)``) the region is the whole image.

Region drawings are drawn on the image's crop with the face's coordinates shifted by the offset
(exact in float64), so with the same line sizes they equal that crop of the full-frame drawing;
by default lines and dots scale with the region (as full-frame ones scale with the image).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from prnet.io.viz import (
    _default_size,
    depth_to_image,
    draw_dense,
    draw_landmarks,
    draw_mesh_overlay,
    draw_pose_box,
)
from prnet.render import Raster
from prnet.render.region import Region, place_raster, shifted

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult

__all__ = ["MARGIN", "REGION_DRAWINGS", "combined_drawing", "depth_encoding", "draw_region",
           "output_region", "region_raster"]

#: Margin of the output region around the mesh's box (fraction of its width / height per side).
MARGIN = 0.25


def output_region(face: FaceResult, options: ExportOptions | None = None) -> Region:
    """The pixels of ``face``'s image outputs: the whole image with ``options.full_frame``,
    else the mesh's box grown by :data:`MARGIN` and clipped (the whole image when the mesh
    covers no pixel of it)."""
    h, w = face.image_shape
    box = face.raster_region
    if (options is not None and options.full_frame) or box.empty:
        return Region.full(h, w)
    return box.expand(MARGIN, h, w)


def region_raster(face: FaceResult, region: Region) -> Raster:
    """The face's z-buffer over ``region`` (its region raster placed on a background canvas)."""
    return place_raster(face.region_raster, face.raster_region, region)


def _pose_box(face: FaceResult, crop: np.ndarray, region: Region, size: int) -> np.ndarray:
    half = 0.5 * float(np.ptp(face.layout.canonical_kpt[:, 0]))
    centre = np.asarray(face.landmarks, np.float64)[:27, :2].mean(0) - (region.x0, region.y0)
    return draw_pose_box(crop, face.pose.image_camera_matrix, center=centre, size=half,
                         thickness=2 * size)


#: Drawing name → ``draw(face, crop, region, size)`` of the region ``crop`` of the image, with
#: ``size`` the dot radius / line thickness (the pose box's lines are twice as thick).
REGION_DRAWINGS: dict[str, Callable[[FaceResult, np.ndarray, Region, int], np.ndarray]] = {
    "landmarks": lambda f, c, r, s: draw_landmarks(c, shifted(f.landmarks, r),
                                                   f.landmark_visibility, radius=s, thickness=s),
    "dense": lambda f, c, r, s: draw_dense(c, shifted(f.vertices, r)),
    "pose": _pose_box,
    "depth": lambda f, c, r, s: depth_to_image(f.depth(normalize=False, region=r)),
    "mesh": lambda f, c, r, s: draw_mesh_overlay(c, shifted(f.vertices, r), f.triangles,
                                                 raster=region_raster(f, r)),
}


def draw_region(face: FaceResult, name: str, region: Region, size: int | None = None) -> np.ndarray:
    """The drawing ``name`` (a key of :data:`REGION_DRAWINGS`) of ``region`` of the face's image;
    ``size`` defaults to the region's own (``max(1, round(min(height, width) / 300))``)."""
    crop = region.crop(face.image)
    s = _default_size(crop) if size is None else int(size)
    return REGION_DRAWINGS[name](face, crop, region, s)


def combined_drawing(faces: Sequence[FaceResult], size: int | None = None) -> np.ndarray:
    """One full-frame drawing of all faces of an image: each face's mesh overlay and landmarks
    drawn in its output region, then its pose box. ``size`` defaults to the image's."""
    image = faces[0].image
    out = np.array(image, copy=True)
    s = _default_size(image) if size is None else int(size)
    for face in faces:
        reg = output_region(face)
        crop = out[reg.slices]
        crop[:] = REGION_DRAWINGS["mesh"](face, crop, reg, s)
        crop[:] = REGION_DRAWINGS["landmarks"](face, crop, reg, s)
    full = Region.full(*image.shape[:2])
    for face in faces:
        out = _pose_box(face, out, full, s)
    return out


def depth_encoding(face: FaceResult) -> dict[str, float]:
    """How ``_depth.png`` stores z: ``{"scale", "offset"}`` with ``z = png * scale + offset``
    for png > 0 and png = 0 the background. The face's z range [lo, hi] maps to png 1..65535:
    ``scale = (hi - lo) / 65534`` (1 when flat), ``offset = lo - scale`` (float64; the error is
    at most scale / 2)."""
    r = face.region_raster
    z = r.depth[r.triangle >= 0].astype(np.float64)
    if z.size == 0:
        return {"scale": 1.0, "offset": 0.0}
    lo, hi = float(z.min()), float(z.max())
    scale = (hi - lo) / 65534.0 if hi > lo else 1.0
    return {"scale": scale, "offset": lo - scale}


def encode_depth(depth: np.ndarray, encoding: dict[str, float]) -> np.ndarray:
    """(H, W) uint16 of a depth image (0 background) with ``encoding`` (:func:`depth_encoding`)."""
    fg = depth != 0
    out = np.zeros(depth.shape, np.uint16)
    q = np.rint((depth[fg].astype(np.float64) - encoding["offset"]) / encoding["scale"])
    out[fg] = np.clip(q, 1, 65535).astype(np.uint16)
    return out


def decode_depth(png: np.ndarray, encoding: dict[str, float]) -> np.ndarray:
    """(H, W) float64 z of a ``_depth.png`` (0 on the background)."""
    p = np.asarray(png)
    return np.where(p > 0, p.astype(np.float64) * encoding["scale"] + encoding["offset"], 0.0)
