"""``glb``: ``<base>.glb``, binary glTF 2.0 of the face mesh with its UV texture (embedded PNG).

Viewer orientation like OBJ/PLY (y up: ``y' = H - 1 - y``, triangles facing +z); a PBR
material (``metallicFactor`` 0, ``roughnessFactor`` 1, double-sided, ``baseColorTexture``)
so that the face is lit, not black, in glTF viewers. The texture is the ``texture`` output's
(``options.texture_size``, ``options.mask_invisible``).

The file is assembled directly (JSON chunk + BIN chunk of NumPy buffers), without building a
``trimesh.Trimesh``: byte for byte what ``trimesh`` (5.x) writes for the same mesh except for
the triangle indices, stored as uint16 where they fit (``short_indices=False`` gives trimesh's
bytes -- ``trimesh_glb_bytes`` keeps that path, and a test compares the two).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prnet.errors import PRNetError
from prnet.io._atomic import atomic_open
from prnet.io._mesh import TEXTURE_PNG_LEVEL, is_rgb8, png_bytes, to_viewer
from prnet.outputs._files import named
from prnet.outputs.texture import texture_and_uv

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult

__all__ = ["glb_bytes", "trimesh_glb_bytes", "write"]

_GENERATOR = "https://github.com/mikedh/trimesh"  #: kept: the files stay as they were


def _pad4(data: bytes, fill: bytes = b"\0") -> bytes:
    """``data`` padded with ``fill`` to a multiple of 4 bytes (glTF chunk alignment)."""
    return data + fill * (-len(data) % 4)


def _png(texture: np.ndarray, level: int) -> bytes:
    """The texture as PNG at zlib ``level`` (Pillow)."""
    tex = np.asarray(texture)
    if is_rgb8(tex):  # shared with the texture outputs of the same face
        return png_bytes(tex, level)
    from PIL import Image

    with io.BytesIO() as f:
        Image.fromarray(np.ascontiguousarray(tex)).save(f, format="png", compress_level=level)
        return f.getvalue()


def _vec_accessor(data: np.ndarray, kind: str, view: int) -> dict:
    """A float32 VEC accessor with its per-component max/min (trimesh's key order)."""
    cols = np.ascontiguousarray(data.T)  # per column: 20x faster than reducing axis 0
    return {"componentType": 5126, "type": kind, "byteOffset": 0, "bufferView": view,
            "count": len(data), "max": cols.max(axis=1).tolist(),
            "min": cols.min(axis=1).tolist()}


def glb_bytes(vertices: np.ndarray, triangles: np.ndarray, uv: np.ndarray,
              texture: np.ndarray, short_indices: bool = True,
              png_level: int = TEXTURE_PNG_LEVEL) -> bytes:
    """A textured mesh as GLB (one mesh, one PBR material, the texture as embedded PNG).

    With ``short_indices`` the triangle indices are uint16 when every index fits below 65535
    (glTF's ``UNSIGNED_SHORT``; a face mesh: 0.66 MB less), else uint32 as trimesh writes them.

    Args:
        vertices: (N, 3) positions, written as given (float32).
        triangles: (M, 3) 0-based indices (M, N > 0).
        uv: (N, 2) pixel (column, row) of each vertex in ``texture``, pixel centres at integers.
        texture: (H, W, 3) uint8 RGB, embedded as PNG.
        png_level: the PNG's zlib level (trimesh, through Pillow's default, writes 6).
    """
    h, w = texture.shape[:2]
    # the same float64 steps as the trimesh path: OBJ-style t up, then glTF's t = 1 - t
    st = np.stack([(uv[:, 0] + 0.5) / w, 1.0 - (uv[:, 1] + 0.5) / h], axis=1)
    st[:, 1] = 1.0 - st[:, 1]
    faces = np.asarray(triangles, np.int64)
    short = short_indices and faces.max() < 65535  # 65535 is reserved (primitive restart)
    faces = faces.astype(np.uint16 if short else np.uint32)
    pos = np.asarray(vertices, np.float32).astype(np.float64).astype(np.float32)
    tex = st.astype(np.float32)
    buffers = [faces.tobytes(), pos.tobytes(), _png(texture, png_level), tex.tobytes()]
    buffers = [_pad4(b) for b in buffers]
    offsets = np.cumsum([0] + [len(b) for b in buffers]).tolist()
    tree = {
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "asset": {"version": "2.0", "generator": _GENERATOR},
        "accessors": [
            {"componentType": 5123 if short else 5125, "type": "SCALAR", "bufferView": 0, "count": int(faces.size),
             "max": [int(faces.max())], "min": [int(faces.min())]},
            _vec_accessor(pos, "VEC3", 1),
            _vec_accessor(tex, "VEC2", 3),
        ],
        "meshes": [{"name": "geometry_0", "extras": {}, "primitives": [
            {"attributes": {"POSITION": 1, "TEXCOORD_0": 2}, "indices": 0, "mode": 4,
             "material": 0}]}],
        "images": [{"bufferView": 2, "mimeType": "image/png"}],
        "textures": [{"source": 0}],
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0},
                                                "roughnessFactor": 1.0, "metallicFactor": 0.0},
                       "name": "prnet_face", "doubleSided": True}],
        "nodes": [{"name": "geometry_0", "mesh": 0}],
        "buffers": [{"byteLength": offsets[-1]}],
        "bufferViews": [{"buffer": 0, "byteOffset": offsets[i], "byteLength": len(b)}
                        for i, b in enumerate(buffers)],
    }
    content = json.dumps(tree, separators=(",", ":")).encode("utf-8")
    content += b" " * (4 - (len(content) + 20) % 4)  # as trimesh: 1 to 4 spaces
    header = np.array([0x46546C67, 2, len(content) + offsets[-1] + 28, len(content),
                       0x4E4F534A], "<u4").tobytes()
    bin_header = np.array([offsets[-1], 0x004E4942], "<u4").tobytes()
    return b"".join([header, content, bin_header, *buffers])


def trimesh_glb_bytes(vertices: np.ndarray, triangles: np.ndarray, uv: np.ndarray,
                      texture: np.ndarray) -> bytes:
    """:func:`glb_bytes` through ``trimesh`` (the previous writer; the reference in tests).

    Args:
        vertices: (N, 3) positions, written as given (float32).
        triangles: (M, 3) 0-based indices.
        uv: (N, 2) pixel (column, row) of each vertex in ``texture``, pixel centres at integers.
        texture: (H, W, 3) uint8 RGB, embedded as PNG.

    Raises:
        PRNetError: ``trimesh`` is not installed.
    """
    try:
        import trimesh
    except ImportError:
        raise PRNetError("GLB output needs trimesh: pip install trimesh") from None
    from PIL import Image

    h, w = texture.shape[:2]
    # trimesh takes OBJ-style (s, t up) and writes glTF's t down: t_gltf = (row + 0.5) / h
    st = np.stack([(uv[:, 0] + 0.5) / w, 1.0 - (uv[:, 1] + 0.5) / h], axis=1)
    material = trimesh.visual.material.PBRMaterial(
        name="prnet_face", baseColorTexture=Image.fromarray(np.ascontiguousarray(texture)),
        metallicFactor=0.0, roughnessFactor=1.0, doubleSided=True)
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float32), np.asarray(triangles, np.int64),
                           visual=trimesh.visual.TextureVisuals(uv=st, material=material),
                           process=False, validate=False)
    return mesh.export(file_type="glb")


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>.glb``."""
    tex, uv = texture_and_uv(face, options)
    v, tri = to_viewer(face.vertices, face.triangles, image_height=face.image_shape[0])
    path = named(base, ".glb")
    data = glb_bytes(v, tri, uv, tex)
    with atomic_open(path, "wb") as f:
        f.write(data)
    return [path]
