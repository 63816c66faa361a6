"""``depth``: ``<base>_depth.png`` (nearer is brighter) and ``<base>_depth.npy`` (float32 (H, W)
z in pixels, 0 on the background)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prnet.io import depth_to_image, write_image
from prnet.io._atomic import atomic_open
from prnet.outputs._files import named

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def write_npy(path: Path, array: np.ndarray) -> Path:
    """Save ``array`` as ``.npy`` atomically."""
    with atomic_open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
    return path


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>_depth.png`` and ``<base>_depth.npy``."""
    depth = face.depth(normalize=False)
    return [write_image(named(base, "_depth.png"), depth_to_image(depth)),
            write_npy(named(base, "_depth.npy"), depth.astype(np.float32))]
