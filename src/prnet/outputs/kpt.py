"""``kpt``: the 68 3D landmarks, ``<base>_kpt.txt`` (``x y z`` per line) and ``<base>_kpt.json``
(with their visibility); image pixels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prnet.io import write_landmarks_json, write_landmarks_txt
from prnet.outputs._files import named

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>_kpt.txt`` and ``<base>_kpt.json``."""
    return [write_landmarks_txt(named(base, "_kpt.txt"), face.landmarks),
            write_landmarks_json(named(base, "_kpt.json"), face.landmarks,
                                 visible=face.landmark_visibility)]
