"""``obj``: ``<base>.obj``, the face mesh with per-vertex colours, in viewer orientation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prnet.io import write_obj
from prnet.outputs._files import named
from prnet.outputs.encode import OBJ_COLOR_DECIMALS, OBJ_PIXEL_DECIMALS

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>.obj`` (``v x y z r g b``; y flipped with the image height; decimals:
    :mod:`prnet.outputs.encode`)."""
    return [write_obj(named(base, ".obj"), face.vertices, face.triangles, colors=face.colors,
                      image_height=face.image_shape[0], decimals=OBJ_PIXEL_DECIMALS,
                      color_decimals=OBJ_COLOR_DECIMALS)]
