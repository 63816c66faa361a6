"""Landmarks and pose as TXT / JSON, and an atomic, NumPy-aware JSON writer."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from prnet.errors import InputShapeError, PRNetError
from prnet.io._atomic import atomic_open
from prnet.io._mesh import format_rows

__all__ = [
    "read_landmarks_json",
    "read_landmarks_txt",
    "read_pose_json",
    "read_pose_txt",
    "to_jsonable",
    "write_json",
    "write_landmarks_json",
    "write_landmarks_txt",
    "write_pose_json",
    "write_pose_txt",
]


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy arrays/scalars, paths, dataclasses, tuples and sets to JSON types.

    Non-finite floats (NaN, +-inf) become ``None`` so the output is strict JSON.
    """
    if isinstance(obj, np.ndarray):
        if np.issubdtype(obj.dtype, np.floating) and not np.isfinite(obj).all():
            o = obj.astype(object)
            o[~np.isfinite(obj)] = None
            return o.tolist()
        if obj.dtype == object:
            return [to_jsonable(x) for x in obj.tolist()]
        return obj.tolist()
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(x) for x in obj]
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as UTF-8 JSON atomically (temporary file + rename).

    NumPy arrays and scalars, paths and dataclasses are converted (see
    :func:`to_jsonable`); a crash while writing never leaves a half-written file.

    Raises:
        TypeError: if ``obj`` holds something that cannot be converted (nothing is written).
    """
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False)
    # Lone surrogates (file names with bytes that are not UTF-8, as Python decodes them)
    # cannot be encoded: write them as JSON escapes ("caf\udce9"), which read back to the
    # same string (and os.fsencode gives back the name's bytes).
    text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    with atomic_open(path, "w") as f:
        f.write(text + "\n")
    return Path(path)


def _read_json(path: str | os.PathLike, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PRNetError(f"cannot read {what} {path}: {e}") from None


# --------------------------------------------------------------------------- landmarks


def _check_kpts(kpts: np.ndarray) -> np.ndarray:
    k = np.asarray(kpts, dtype=np.float64)
    if k.ndim != 2 or k.shape[1] not in (2, 3):
        raise InputShapeError(f"landmarks must have shape (K, 2) or (K, 3), got {k.shape}")
    return k


def write_landmarks_txt(path: str | os.PathLike, kpts: np.ndarray) -> Path:
    """Landmarks (K, 2|3), e.g. the 68 points, one ``x y [z]`` line per point (image px)."""
    k = _check_kpts(kpts)
    with atomic_open(path, "w") as f:
        f.write(format_rows(" ".join(["%.6f"] * k.shape[1]) + "\n", k))
    return Path(path)


def read_landmarks_txt(path: str | os.PathLike) -> np.ndarray:
    """Inverse of :func:`write_landmarks_txt`: (K, 2|3) float64."""
    try:
        return np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as e:
        raise PRNetError(f"cannot read landmarks {path}: {e}") from None


def write_landmarks_json(
    path: str | os.PathLike, kpts: np.ndarray, visible: np.ndarray | None = None
) -> Path:
    """``{"count": K, "landmarks": [[x, y, z], ...], "visible": [...]}`` (visible optional)."""
    k = _check_kpts(kpts)
    obj: dict[str, Any] = {"count": int(k.shape[0]), "landmarks": k}
    if visible is not None:
        vis = np.asarray(visible, dtype=bool)
        if vis.shape != (k.shape[0],):
            raise InputShapeError(f"visible must have shape ({k.shape[0]},), got {vis.shape}")
        obj["visible"] = vis
    return write_json(path, obj)


def read_landmarks_json(path: str | os.PathLike) -> np.ndarray:
    """Inverse of :func:`write_landmarks_json`: (K, 2|3) float64 (NaN for nulls)."""
    obj = _read_json(path, "landmarks")
    try:
        return np.array(obj["landmarks"], dtype=np.float64).reshape(len(obj["landmarks"]), -1)
    except (KeyError, TypeError, ValueError) as e:
        raise PRNetError(f"cannot read landmarks {path}: {e}") from None


# --------------------------------------------------------------------------- pose


def _check_pose(angles: Any, camera_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(angles, dtype=np.float64).reshape(-1)
    p = np.asarray(camera_matrix, dtype=np.float64)
    if a.shape != (3,):
        raise InputShapeError(f"angles must be (yaw, pitch, roll), got shape {a.shape}")
    if p.shape != (3, 4):
        raise InputShapeError(f"camera_matrix must have shape (3, 4), got {p.shape}")
    return a, p


def write_pose_txt(path: str | os.PathLike, angles: Any, camera_matrix: np.ndarray) -> Path:
    """Pose as text: a ``yaw pitch roll`` line (degrees) then the 3x4 camera matrix rows.

    Lines starting with ``#`` are comments.
    """
    a, p = _check_pose(angles, camera_matrix)
    text = (
        "# yaw pitch roll (degrees)\n"
        + format_rows("%.6f %.6f %.6f\n", a[None])
        + "# camera matrix (3x4)\n"
        + format_rows("%.9g %.9g %.9g %.9g\n", p)
    )
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


def read_pose_txt(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`write_pose_txt`: ``(angles (3,), camera_matrix (3, 4))``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        rows = [r.split() for r in lines if r.strip() and not r.lstrip().startswith("#")]
        angles = np.array(rows[0], dtype=np.float64)
        cam = np.array(rows[1:4], dtype=np.float64)
    except (OSError, ValueError, IndexError) as e:
        raise PRNetError(f"cannot read pose {path}: {e}") from None
    if angles.shape != (3,) or cam.shape != (3, 4):
        raise PRNetError(f"cannot read pose {path}: expected 3 angles and a 3x4 matrix")
    return angles, cam


def write_pose_json(path: str | os.PathLike, angles: Any, camera_matrix: np.ndarray) -> Path:
    """``{"yaw": .., "pitch": .., "roll": .., "units": "degrees", "camera_matrix": 3x4}``."""
    a, p = _check_pose(angles, camera_matrix)
    obj = {"yaw": a[0], "pitch": a[1], "roll": a[2], "units": "degrees", "camera_matrix": p}
    return write_json(path, obj)


def read_pose_json(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`write_pose_json`: ``(angles (3,), camera_matrix (3, 4))``."""
    obj = _read_json(path, "pose")
    try:
        angles = np.array([obj["yaw"], obj["pitch"], obj["roll"]], dtype=np.float64)
        cam = np.array(obj["camera_matrix"], dtype=np.float64).reshape(3, 4)
    except (KeyError, TypeError, ValueError) as e:
        raise PRNetError(f"cannot read pose {path}: {e}") from None
    return angles, cam
