"""``texture``: ``<base>_tex.obj`` + ``.mtl`` + ``_texture.png``, the mesh with its UV texture."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prnet.geometry.uv import texture_pixels
from prnet.io import write_obj
from prnet.outputs._files import named
from prnet.outputs.encode import OBJ_PIXEL_DECIMALS, OBJ_UV_DECIMALS

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def texture_and_uv(face: FaceResult, options: ExportOptions) -> tuple[np.ndarray, np.ndarray]:
    """The (N, N, 3) uint8 UV texture (N = ``options.texture_size``) and the (V, 2) float64
    pixel coordinates of each vertex in it."""
    size = int(options.texture_size)
    tex = face.uv_texture(size, mask_invisible=options.mask_invisible)
    return tex, texture_pixels(face.uv, size)


def write_textured_obj(path: Path, vertices: np.ndarray, face: FaceResult, texture: np.ndarray,
                       uv: np.ndarray, **kw: Any) -> list[Path]:
    """``path`` (OBJ) with its ``.mtl`` and ``_texture.png``; ``kw`` go to :func:`write_obj`
    (``vt`` with :data:`~prnet.outputs.encode.OBJ_UV_DECIMALS`)."""
    obj = write_obj(path, vertices, face.triangles, uv=uv, texture=texture,
                    uv_decimals=OBJ_UV_DECIMALS, **kw)
    return [obj, obj.with_name(f"{obj.stem}.mtl"), obj.with_name(f"{obj.stem}_texture.png")]


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>_tex.obj``, ``<base>_tex.mtl`` and ``<base>_tex_texture.png``."""
    tex, uv = texture_and_uv(face, options)
    return write_textured_obj(named(base, "_tex.obj"), face.vertices, face, tex, uv,
                              image_height=face.image_shape[0], decimals=OBJ_PIXEL_DECIMALS)
