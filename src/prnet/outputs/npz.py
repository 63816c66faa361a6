"""``npz``: ``<base>.npz``, every array of the face for NumPy (:func:`face_arrays`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prnet.io import write_npz
from prnet.outputs._files import named
from prnet.outputs.arrays import face_arrays

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>.npz``."""
    return [write_npz(named(base, ".npz"), **face_arrays(face))]
