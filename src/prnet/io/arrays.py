"""NumPy ``.npz`` and MATLAB ``.mat`` exports (vertices, colours, triangles, landmarks, pose)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from prnet.errors import InputShapeError, PRNetError
from prnet.io._atomic import atomic_open

__all__ = ["read_npz", "write_mat", "write_npz"]

_MAT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}\Z")


def write_npz(path: str | os.PathLike, **arrays: Any) -> Path:
    """Write arrays to a compressed ``.npz`` file atomically.

    Example: ``write_npz("face.npz", vertices=v, colors=c, triangles=t, landmarks=k)``.

    Args:
        path: destination; written exactly as given (no ``.npz`` is appended).
        **arrays: name -> array-like (object arrays are refused: they need pickle to load).

    Returns:
        The path written.

    Raises:
        InputShapeError: if no arrays are given or one has dtype object.
    """
    if not arrays:
        raise InputShapeError("write_npz needs at least one named array")
    data = {k: np.asarray(a) for k, a in arrays.items()}
    bad = [k for k, a in data.items() if a.dtype == object]
    if bad:
        raise InputShapeError(f"write_npz: arrays {bad} have dtype object (not portable)")
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **data)
    return Path(path)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file into a dict (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise PRNetError(f"cannot read npz {path}: {e}") from None


def write_mat(path: str | os.PathLike, data: dict[str, Any], compress: bool = True) -> Path:
    """Write a dict of arrays/scalars/strings as a MATLAB v5 ``.mat`` file atomically.

    Args:
        path: destination (written exactly as given).
        data: variable name -> value. Names must be MATLAB identifiers (a letter, then
            letters, digits or ``_``; at most 63 characters). ``None`` values are refused.
        compress: zlib-compress the variables.

    Returns:
        The path written.

    Raises:
        InputShapeError: for an invalid name or a ``None`` value.
    """
    if not isinstance(data, dict) or not data:
        raise InputShapeError("write_mat needs a non-empty dict of name -> value")
    bad = [k for k in data if not (isinstance(k, str) and _MAT_NAME.match(k))]
    if bad:
        raise InputShapeError(f"write_mat: invalid MATLAB variable names {bad}")
    none = [k for k, v in data.items() if v is None]
    if none:
        raise InputShapeError(f"write_mat: variables {none} are None")
    with atomic_open(path, "wb") as f:
        scipy.io.savemat(f, data, do_compression=compress, oned_as="row")
    return Path(path)
