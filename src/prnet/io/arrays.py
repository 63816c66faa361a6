"""NumPy ``.npz`` and MATLAB ``.mat`` exports (vertices, colours, triangles, landmarks, pose)."""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from prnet.errors import InputShapeError, PRNetError
from prnet.io._atomic import atomic_open

__all__ = ["ZLIB_LEVEL", "read_npz", "write_mat", "write_npz"]

#: zlib level of :func:`write_npz` and :func:`write_mat`. Level 1 compresses float arrays
#: within a few per cent of zlib's default (6) in a fraction of the time: 3-4× faster on the
#: arrays of a face, whose float values are rounded to power-of-two grids
#: (:mod:`prnet.outputs.arrays`), where level 6 searches long matches in vain.
ZLIB_LEVEL = 1
_MI_COMPRESSED = 15  #: MAT v5 data type of a zlib-compressed element

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
    with atomic_open(path, "wb") as f, zipfile.ZipFile(
            f, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=ZLIB_LEVEL) as zf:
        for name, a in data.items():  # as np.savez_compressed writes them
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, a, allow_pickle=False)
    return Path(path)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file into a dict (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise PRNetError(f"cannot read npz {path}: {e}") from None


def _mat_bytes(data: dict[str, Any], level: int) -> bytes:
    """A MAT v5 file whose variables are each zlib-compressed at ``level``: scipy writes every
    variable uncompressed, and each is wrapped in an ``miCOMPRESSED`` element, as
    ``scipy.io.savemat(do_compression=True)`` does at zlib's default level."""
    parts = []
    for name, value in data.items():
        with io.BytesIO() as f:
            scipy.io.savemat(f, {name: value}, do_compression=False, oned_as="row")
            raw = f.getvalue()
        if not parts:
            parts.append(raw[:128])  # the file header
        packed = zlib.compress(raw[128:], level)
        parts.append(struct.pack("=II", _MI_COMPRESSED, len(packed)) + packed)
    return b"".join(parts)


def write_mat(path: str | os.PathLike, data: dict[str, Any], compress: bool = True,
              level: int = ZLIB_LEVEL) -> Path:
    """Write a dict of arrays/scalars/strings as a MATLAB v5 ``.mat`` file atomically.

    Args:
        path: destination (written exactly as given).
        data: variable name -> value. Names must be MATLAB identifiers (a letter, then
            letters, digits or ``_``; at most 63 characters). ``None`` values are refused.
        compress: zlib-compress the variables, at zlib ``level`` (0-9).

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
        if compress:
            f.write(_mat_bytes(data, level))
        else:
            scipy.io.savemat(f, data, do_compression=False, oned_as="row")
    return Path(path)
