"""Wavefront OBJ export (vertex colours, or UV + MTL + PNG texture) and a minimal reader."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prnet.array_cache import ArrayCache
from prnet.errors import InputShapeError, PRNetError
from prnet.io._atomic import atomic_open
from prnet.io._mesh import (
    TEXTURE_PNG_LEVEL,
    check_mesh,
    colors_unit,
    format_fixed_rows,
    format_rows,
    is_rgb8,
    png_bytes,
    to_viewer,
)
from prnet.io.image import write_image

__all__ = ["ObjMesh", "read_obj", "write_obj"]

_MATERIAL = "prnet_texture"


_FACE_CACHE: ArrayCache[bytes] = ArrayCache(4)  #: triangles → their f lines, tagged with_uv


def _format_faces(faces: np.ndarray, with_uv: bool) -> bytes:
    """The ``f`` lines of (M, 3) 0-based triangles (written 1-based), ASCII."""
    one = faces.astype(np.int64) + 1
    if with_uv:
        return format_rows("f %d/%d %d/%d %d/%d\n", np.repeat(one, 2, axis=1)).encode("ascii")
    return format_rows("f %d %d %d\n", one).encode("ascii")


def _face_lines(tri: np.ndarray, with_uv: bool) -> bytes:
    """:func:`_format_faces`, cached: every prnet mesh shares the UV layout's triangles, so
    they are formatted once per process instead of once per file. An entry is used only for
    a triangle array equal to the one it was made from (its own copy: changing the caller's
    array later cannot make it stale); the last four lists are kept."""
    return _FACE_CACHE.get(tri, lambda: _format_faces(tri, with_uv), tag=with_uv)


def write_obj(
    path: str | os.PathLike,
    vertices: np.ndarray,
    triangles: np.ndarray,
    colors: np.ndarray | None = None,
    uv: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    flip_y: bool = True,
    image_height: int | None = None,
    *,
    texture_size: tuple[int, int] | None = None,
    decimals: int = 6,
    color_decimals: int = 6,
    uv_decimals: int = 6,
) -> Path:
    """Write a triangle mesh as OBJ (atomically), in viewer orientation.

    Coordinates: see :func:`prnet.io._mesh.to_viewer` -- with ``flip_y`` (default) y is
    flipped to point up (``y' = image_height - 1 - y`` if ``image_height`` is given, else
    ``y' = -y``) and the triangle winding is set so that normals face the viewer (+z).

    Args:
        path: the ``.obj`` file. With a texture, ``<stem>.mtl`` and ``<stem>_texture.png``
            are written next to it and referenced by relative names.
        vertices: (N, 3) float, image pixels (x right, y down, z towards the camera).
        triangles: (M, 3) integer indices (0-based in memory, written 1-based).
        colors: optional (N, 3) per-vertex RGB, float in [0, 1] or uint8; written as
            ``v x y z r g b`` (floats in [0, 1]).
        uv: optional (N, 2) per-vertex texture coordinates in *texture pixels* (column, row;
            pixel centres at integers, as for :func:`prnet.render.render_texture`). Written
            as ``vt s t`` with ``s = (u + 0.5) / Wt``, ``t = 1 - (v + 0.5) / Ht`` (OBJ: t up).
        texture: optional (Ht, Wt, 3) RGB image (uint8 or float in [0, 1]) saved as PNG and
            referenced by an MTL material (``map_Kd``). Requires ``uv``.
        flip_y: flip y to viewer orientation (see above).
        image_height: height of the image the vertices live in (for the flip).
        texture_size: (Ht, Wt) used to normalise ``uv`` when no ``texture`` is given.
        decimals, color_decimals, uv_decimals: digits after the point (1..6) of the
            coordinates, the colours and the ``vt`` values (half-even rounding, as ``%.Nf``).

    Returns:
        The path of the OBJ file.

    Raises:
        InputShapeError: on malformed arrays, ``texture`` without ``uv``, or ``uv`` without a
            texture size.
    """
    out = Path(path)
    v, tri = check_mesh(vertices, triangles)
    n = v.shape[0]
    col = colors_unit(colors, n)
    if texture is not None and uv is None:
        raise InputShapeError("write_obj: a texture needs per-vertex uv coordinates")
    vt = None
    if uv is not None:
        uv_a = np.asarray(uv, dtype=np.float64)
        if uv_a.shape != (n, 2):
            raise InputShapeError(f"uv must have shape ({n}, 2), got {uv_a.shape}")
        if texture is not None:
            tex = np.asarray(texture)
            if tex.ndim not in (2, 3) or tex.shape[0] == 0 or tex.shape[1] == 0:
                raise InputShapeError(
                    f"texture must have shape (H, W) or (H, W, C), got {tex.shape}"
                )
            ht, wt = tex.shape[:2]
        elif texture_size is not None:
            ht, wt = (int(s) for s in texture_size)
        else:
            raise InputShapeError("write_obj: uv needs a texture or texture_size=(H, W)")
        vt = np.stack([(uv_a[:, 0] + 0.5) / wt, 1.0 - (uv_a[:, 1] + 0.5) / ht], axis=1)

    v, tri = to_viewer(v, tri, flip_y=flip_y, image_height=image_height)
    parts = [f"# prnet mesh: {n} vertices, {tri.shape[0]} triangles\n".encode()]
    mtl_name = f"{out.stem}.mtl"
    tex_name = f"{out.stem}_texture.png"
    if texture is not None:
        parts.append(f"mtllib {mtl_name}\n".encode())
    if col is None:
        parts.append(format_fixed_rows("v ", v, decimals))
    else:
        parts.append(format_fixed_rows("v ", np.hstack([v, col]),
                                       (decimals,) * 3 + (color_decimals,) * 3))
    if vt is not None:
        parts.append(format_fixed_rows("vt ", vt, uv_decimals))
    if texture is not None:
        parts.append(f"usemtl {_MATERIAL}\n".encode())
    parts.append(_face_lines(tri, vt is not None))

    if texture is not None:
        tex_a = np.asarray(texture)
        if is_rgb8(tex_a):  # the encoding the face's other outputs may share
            with atomic_open(out.with_name(tex_name), "wb") as f:
                f.write(png_bytes(tex_a))
        else:
            write_image(out.with_name(tex_name), tex_a, png_level=TEXTURE_PNG_LEVEL)
        with atomic_open(out.with_name(mtl_name), "w") as f:
            f.write(
                f"newmtl {_MATERIAL}\nKa 1.000000 1.000000 1.000000\n"
                f"Kd 1.000000 1.000000 1.000000\nKs 0.000000 0.000000 0.000000\n"
                f"d 1.0\nillum 1\nmap_Kd {tex_name}\n"
            )
    with atomic_open(out, "wb") as f:
        for part in parts:  # no joined copy of the whole file
            f.write(part)
    return out


@dataclass(frozen=True)
class ObjMesh:
    """What :func:`read_obj` returns (arrays as stored in the file, 0-based indices)."""

    vertices: np.ndarray  #: (N, 3) float64
    triangles: np.ndarray  #: (M, 3) int64
    colors: np.ndarray | None  #: (N, 3) float64 if the ``v`` lines carry colours
    uv: np.ndarray | None  #: (T, 2) float64 ``vt`` values (OBJ convention, t up)
    uv_triangles: np.ndarray | None  #: (M, 3) int64 ``vt`` indices of each face
    material_file: Path | None  #: ``mtllib`` path, resolved next to the OBJ
    texture_file: Path | None  #: ``map_Kd`` of that MTL, resolved next to it


def _floats(lines: list[str], path: Path, what: str) -> np.ndarray:
    if not lines:
        return np.zeros((0, 0))
    tokens = np.array(" ".join(lines).split(), dtype=np.float64)
    cols = len(lines[0].split())
    if tokens.size != cols * len(lines):
        raise PRNetError(f"cannot read OBJ {path}: '{what}' lines have varying lengths")
    return tokens.reshape(len(lines), cols)


def _indices(col: np.ndarray, count: int) -> np.ndarray:
    i = col.astype(np.int64)
    return np.where(i < 0, count + i, i - 1)


def read_obj(path: str | os.PathLike) -> ObjMesh:
    """Minimal OBJ reader (``v``, ``vt``, triangular ``f``, ``mtllib``/``map_Kd``).

    Handles ``f a b c``, ``a/b``, ``a//n`` and ``a/b/n`` forms and negative indices. Other
    statements are ignored. Meant for round-trip tests and simple meshes, not a full parser.

    Raises:
        PRNetError: if the file cannot be read, a face is not a triangle, or an index is out
            of range.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise PRNetError(f"cannot read OBJ {p}: {e.strerror or e}") from None
    vlines = re.findall(r"^[ \t]*v[ \t]+([^\n#]*)", text, re.MULTILINE)
    tlines = re.findall(r"^[ \t]*vt[ \t]+([^\n#]*)", text, re.MULTILINE)
    flines = re.findall(r"^[ \t]*f[ \t]+([^\n#]*)", text, re.MULTILINE)
    vdata = _floats(vlines, p, "v")
    n = vdata.shape[0]
    vertices = vdata[:, :3] if n else np.zeros((0, 3))
    colors = vdata[:, 3:6] if n and vdata.shape[1] >= 6 else None
    uv = _floats(tlines, p, "vt")[:, :2] if tlines else None

    corners = re.findall(r"(-?\d+)(?:/(-?\d*))?(?:/(-?\d*))?", " ".join(flines))
    if len(corners) != 3 * len(flines):
        raise PRNetError(f"cannot read OBJ {p}: only triangular faces are supported")
    if corners:
        c = np.array(corners)  # (3M, 3) strings: v, vt, vn
        tri = _indices(c[:, 0], n).reshape(-1, 3)
        uv_tri = None
        if uv is not None and (c[:, 1] != "").all():
            uv_tri = _indices(c[:, 1], uv.shape[0]).reshape(-1, 3)
    else:
        tri = np.zeros((0, 3), np.int64)
        uv_tri = None
    if tri.size and (tri.min() < 0 or tri.max() >= n):
        raise PRNetError(f"cannot read OBJ {p}: face index out of range (1..{n})")

    mtl = re.search(r"^[ \t]*mtllib[ \t]+(.+?)[ \t]*$", text, re.MULTILINE)
    material_file = p.parent / mtl.group(1).strip() if mtl else None
    texture_file = None
    if material_file is not None and material_file.is_file():
        mtext = material_file.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"^[ \t]*map_Kd[ \t]+(.+?)[ \t]*$", mtext, re.MULTILINE)
        texture_file = material_file.parent / m.group(1).strip() if m else None
    return ObjMesh(
        vertices=vertices,
        triangles=tri,
        colors=colors,
        uv=uv,
        uv_triangles=uv_tri,
        material_file=material_file,
        texture_file=texture_file,
    )
