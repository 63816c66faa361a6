"""``glb``: ``<base>.glb``, binary glTF 2.0 of the face mesh with its UV texture (embedded PNG).

Viewer orientation like OBJ/PLY (y up: ``y' = H - 1 - y``, triangles facing +z); a PBR
material (``metallicFactor`` 0, ``roughnessFactor`` 1, double-sided, ``baseColorTexture``)
so that the face is lit, not black, in glTF viewers. The texture is the ``texture`` output's
(``options.texture_size``, ``options.mask_invisible``). Written with ``trimesh``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prnet.errors import PRNetError
from prnet.io._atomic import atomic_open
from prnet.io._mesh import to_viewer
from prnet.outputs._files import named
from prnet.outputs.texture import texture_and_uv

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult

__all__ = ["glb_bytes", "write"]


def glb_bytes(vertices: np.ndarray, triangles: np.ndarray, uv: np.ndarray,
              texture: np.ndarray) -> bytes:
    """A textured mesh as GLB.

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
