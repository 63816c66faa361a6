"""The rows of a ``prnet batch`` dataset: one per face, or one per image without a face or that
failed; their Arrow schema; and the table built from them. Both engines (local and Ray) build
their rows here, so they write the same values.

Face values come from :func:`prnet.outputs.schema.face_record` (the JSON record of
``prnet reconstruct``), with its rounding: box and landmarks to 0.01 px, score and
visible fraction to 1e-4, angles to 1e-3 degrees, the camera matrix to 1e-6.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from prnet.batch._deps import require_pyarrow

if TYPE_CHECKING:
    import pyarrow as pa

    from prnet.pipeline import FaceResult

__all__ = ["DENSE_KINDS", "STATUSES", "decode_posmap", "face_row", "failed_row", "no_face_row",
           "row_schema", "rows_table"]

#: Values of the ``status`` column.
STATUSES = ("ok", "no_face", "failed")
#: What ``--dense`` adds: the position map (``posmap``, float16 bytes) or the dense vertices.
DENSE_KINDS = ("posmap", "vertices")
#: Shape of a decoded ``posmap`` value (UV rows, UV columns, x/y/z in image pixels).
POSMAP_SHAPE = (256, 256, 3)


def row_schema(dense: str | None = None, files: bool = False) -> pa.Schema:
    """The Arrow schema of the rows (``dense``: one of :data:`DENSE_KINDS` or None; ``files``:
    the ``files`` column of ``--outputs``)."""
    pa = require_pyarrow()
    f32, f64 = pa.float32(), pa.float64()
    fields = [
        pa.field("path", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("faces", pa.int32(), nullable=False),
        pa.field("face_index", pa.int32(), nullable=False),
        pa.field("box", pa.list_(f32, 4)),
        pa.field("score", f32),
        pa.field("landmarks", pa.list_(pa.list_(f32, 3), 68)),
        pa.field("landmark_visibility", pa.list_(pa.bool_(), 68)),
        pa.field("visible_fraction", f32),
        pa.field("yaw", f32),
        pa.field("pitch", f32),
        pa.field("roll", f32),
        pa.field("camera_matrix", pa.list_(pa.list_(f64, 4), 3)),
    ]
    if files:
        fields.append(pa.field("files", pa.list_(pa.string())))
    if dense == "posmap":
        fields.append(pa.field("posmap", pa.binary()))
    elif dense == "vertices":
        fields.append(pa.field("vertices", pa.list_(pa.list_(f32, 3))))
    elif dense is not None:
        raise ValueError(f"dense must be one of {DENSE_KINDS} or None, got {dense!r}")
    return pa.schema(fields)


def face_row(path: str, face: FaceResult, faces: int, dense: str | None = None,
             files: Sequence[str] | None = None) -> dict[str, Any]:
    """The row of one face of the image ``path`` (which has ``faces`` faces)."""
    from prnet.outputs.schema import face_record

    rec = face_record(face)
    pose = rec["pose"]
    h, w = face.image_shape
    row = {"path": path, "status": "ok", "error": None, "width": int(w), "height": int(h),
           "faces": int(faces), "face_index": rec["index"], "box": rec["box"],
           "score": rec["score"], "landmarks": rec["landmarks"],
           "landmark_visibility": rec["landmark_visibility"],
           "visible_fraction": rec["visible_fraction"], "yaw": pose["yaw"],
           "pitch": pose["pitch"], "roll": pose["roll"], "camera_matrix": pose["camera_matrix"]}
    if files is not None:
        row["files"] = list(files)
    if dense == "posmap":
        row["posmap"] = np.ascontiguousarray(face.posmap, "<f2").tobytes()
    elif dense == "vertices":
        row["vertices"] = np.asarray(face.vertices, np.float32)
    return row


def no_face_row(path: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """The row of an image read without error in which no face was found."""
    return {"path": path, "status": "no_face", "error": None, "width": int(shape[1]),
            "height": int(shape[0]), "faces": 0, "face_index": -1}


def failed_row(path: str, error: str, shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The row of an image that could not be read or reconstructed (``error``: one line)."""
    return {"path": path, "status": "failed", "error": " ".join(str(error).split()),
            "width": None if shape is None else int(shape[1]),
            "height": None if shape is None else int(shape[0]), "faces": 0, "face_index": -1}


def _vertices_array(values: list[Any]) -> pa.Array:
    """list<fixed_size_list<float32, 3>> from (N, 3) arrays (None: null), without Python
    loops over the vertices."""
    pa = require_pyarrow()
    present = [np.asarray(v, np.float32).reshape(-1, 3) for v in values if v is not None]
    flat = np.concatenate(present).ravel() if present else np.zeros(0, np.float32)
    sizes = np.array([0 if v is None else len(np.asarray(v).reshape(-1, 3)) for v in values])
    offsets = pa.array(np.r_[0, np.cumsum(sizes)].astype(np.int32))
    mask = pa.array([v is None for v in values])
    inner = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), 3)
    return pa.ListArray.from_arrays(offsets, inner, mask=mask)


def rows_table(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """The rows as a table of ``schema`` (missing values are null)."""
    pa = require_pyarrow()
    columns = []
    for field in schema:
        values = [r.get(field.name) for r in rows]
        if field.name == "vertices":
            columns.append(_vertices_array(values))
        else:
            columns.append(pa.array(values, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def decode_posmap(value: bytes) -> np.ndarray:
    """A ``posmap`` value → (256, 256, 3) float32 position map in image pixels."""
    return np.frombuffer(value, "<f2").reshape(POSMAP_SHAPE).astype(np.float32)
