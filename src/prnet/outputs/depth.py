"""``depth``: ``<base>_depth.png`` and ``<base>_depth.npy`` of the face's output region.

By default (region outputs): ``_depth.png`` is a 16-bit grey PNG of the region, ``z = png *
scale + offset`` with ``scale`` and ``offset`` in ``<stem>.json`` (the face's
``"depth_encoding"``) and png 0 the background; ``_depth.npy`` is float32 (height, width) z in
image pixels of the region, 0 on the background. With ``full_frame``: an 8-bit picture of the
whole image (nearer is brighter) and the full-frame float32 z, as before region outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prnet.io import depth_to_image, write_image
from prnet.io._atomic import atomic_open
from prnet.outputs._files import named
from prnet.outputs.encode import DEPTH_PNG_LEVEL, write_png
from prnet.outputs.regions import depth_encoding, encode_depth, output_region

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
    if not options.full_frame:
        depth = face.depth(normalize=False, region=output_region(face, options))
        png = encode_depth(depth, depth_encoding(face))
        return [write_png(named(base, "_depth.png"), png, DEPTH_PNG_LEVEL),
                write_npy(named(base, "_depth.npy"), depth.astype(np.float32))]
    depth = face.depth(normalize=False)
    return [write_image(named(base, "_depth.png"), depth_to_image(depth)),
            write_npy(named(base, "_depth.npy"), depth.astype(np.float32))]
