"""The JSON records of faces and images (``<stem>.json``, ``FaceResult.to_dict``), versioned.

:data:`SCHEMA_VERSION` is written as ``"schema"`` in every image record; it changes when a
field is renamed, removed or changes meaning (adding a field keeps it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult

__all__ = ["SCHEMA_VERSION", "face_record", "image_record"]

SCHEMA_VERSION = 1


def _rounded(a: Any, decimals: int) -> list:
    # float64 before rounding: float32 values would print as 177.33999633789062 in JSON
    return np.asarray(a, np.float64).round(decimals).tolist()


def face_record(face: FaceResult) -> dict[str, Any]:
    """JSON-ready description of one face.

    ``{"index", "box" ([x0, y0, x1, y1], 0.01 px), "score" (1e-4), "landmarks" (68 × [x, y, z],
    image pixels, 0.01 px), "landmark_visibility" (68 bools), "visible_fraction" (of the dense
    vertices, 1e-4), "pose": {"yaw", "pitch", "roll" (degrees, 1e-3), "camera_matrix" (3×4,
    canonical y-up → y-up image frame, 1e-6), "units": "degrees"}}``.
    """
    p = face.pose
    return {
        "index": int(face.index),
        "box": _rounded(face.box, 2),
        "score": round(float(face.score), 4),
        "landmarks": _rounded(face.landmarks, 2),
        "landmark_visibility": np.asarray(face.landmark_visibility, bool).tolist(),
        "visible_fraction": round(float(np.mean(face.visibility)), 4),
        "pose": {"yaw": round(p.yaw, 3), "pitch": round(p.pitch, 3), "roll": round(p.roll, 3),
                 "camera_matrix": _rounded(p.camera_matrix, 6), "units": "degrees"},
    }


def image_record(
    faces: Sequence[FaceResult],
    *,
    source: str | os.PathLike | None = None,
    image_shape: tuple[int, int] | None = None,
    files: Sequence[Sequence[str]] | None = None,
    options: ExportOptions | None = None,
    image_files: Sequence[str] = (),
) -> dict[str, Any]:
    """JSON-ready description of one image: its faces and the files written for them.

    ``{"schema": SCHEMA_VERSION, "prnet_version", "image": source, "height", "width",
    "faces": [face_record + "files" (+ "region", "depth_encoding")], "files": [every face's
    files, then the image's], "image_files": [the image's own files, e.g. <stem>_viz.jpg],
    "options": ExportOptions.to_json() or null}``. ``image_shape`` (height, width) defaults to
    the faces' image; ``files`` (per face, names as they should appear) defaults to none.

    With ``options``, each face also gets ``"region"``: ``[x0, y0, width, height]`` of its
    image outputs (:func:`prnet.outputs.regions.output_region`; the whole image with
    ``full_frame``), and, when ``depth`` is written as a region, ``"depth_encoding"``:
    ``{"scale", "offset"}`` of its 16-bit ``_depth.png``.
    """
    from prnet import __version__
    from prnet.outputs.regions import depth_encoding, output_region

    if files is None:
        files = [[] for _ in faces]
    if image_shape is None and faces:
        image_shape = faces[0].image_shape
    entries = [{**face_record(f), "files": list(fs)} for f, fs in zip(faces, files, strict=True)]
    if options is not None:
        for e, f in zip(entries, faces, strict=True):
            e["region"] = output_region(f, options).to_list()
            if "depth" in options and not options.full_frame:
                e["depth_encoding"] = depth_encoding(f)
    return {
        "schema": SCHEMA_VERSION,
        "prnet_version": __version__,
        "image": None if source is None else os.fspath(source),
        "height": None if image_shape is None else int(image_shape[0]),
        "width": None if image_shape is None else int(image_shape[1]),
        "faces": entries,
        "files": [name for fs in files for name in fs] + list(image_files),
        "image_files": list(image_files),
        "options": None if options is None else options.to_json(),
    }
