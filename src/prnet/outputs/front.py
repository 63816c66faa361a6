"""``front``: the face with its pose removed (canonical y-up frame), for each mesh output:
``<base>_frontal.obj`` (with ``obj``, or when no other mesh output is on), ``_frontal.ply``
(with ``ply``), ``_frontal_tex.obj`` + ``.mtl`` + ``_texture.png`` (with ``texture``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prnet.io import write_obj, write_ply
from prnet.outputs._files import named
from prnet.outputs.encode import OBJ_COLOR_DECIMALS, OBJ_FRONTAL_DECIMALS
from prnet.outputs.texture import texture_and_uv, write_textured_obj

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write the frontal meshes chosen by ``options`` (module doc)."""
    fv = face.frontal_vertices
    out: list[Path] = []
    if options.obj or not (options.ply or options.texture):
        out.append(write_obj(named(base, "_frontal.obj"), fv, face.triangles, colors=face.colors,
                             flip_y=False, decimals=OBJ_FRONTAL_DECIMALS,
                             color_decimals=OBJ_COLOR_DECIMALS))
    if options.ply:
        out.append(write_ply(named(base, "_frontal.ply"), fv, face.triangles, colors=face.colors,
                             flip_y=False))
    if options.texture:
        tex, uv = texture_and_uv(face, options)
        out += write_textured_obj(named(base, "_frontal_tex.obj"), fv, face, tex, uv,
                                  flip_y=False, decimals=OBJ_FRONTAL_DECIMALS)
    return out
