"""Shared helpers of the mesh writers: input checks, viewer orientation, colours, formatting."""

from __future__ import annotations

import numpy as np

from prnet.errors import InputShapeError
from prnet.render.raster import check_triangles, check_vertices


def check_mesh(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) float64 vertices and (M, 3) int64 triangles, validated."""
    v = check_vertices(vertices)[:, :3].astype(np.float64)
    tri = check_triangles(triangles, v.shape[0])
    return v, tri


def to_viewer(
    vertices: np.ndarray,
    triangles: np.ndarray,
    flip_y: bool = True,
    image_height: int | None = None,
    orient: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles as written to mesh files (viewer orientation).

    - ``flip_y``: image y (down) becomes y up: ``y' = image_height - 1 - y`` when
      ``image_height`` is given (the mesh stays in the image's positive quadrant), else
      ``y' = -y``. x and z are unchanged.
    - ``orient``: the winding of all triangles is reversed when needed so that the face
      normals (right-handed, ``cross(v1 - v0, v2 - v0)`` in the written coordinates) point
      towards +z, i.e. to the viewer, on (area-weighted) average. Mirroring y reverses the
      orientation of every triangle, so this keeps faces front-facing after the flip.
    """
    v = np.array(vertices, dtype=np.float64, copy=True)
    tri = np.asarray(triangles)
    if flip_y:
        v[:, 1] = (float(image_height) - 1.0 - v[:, 1]) if image_height is not None else -v[:, 1]
    if orient and tri.size:
        p0, p1, p2 = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
        nz = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p2[:, 0] - p0[:, 0]) * (
            p1[:, 1] - p0[:, 1]
        )
        if np.nansum(nz) < 0:
            tri = tri[:, [0, 2, 1]]
    return v, tri


def colors_unit(colors: np.ndarray | None, n: int) -> np.ndarray | None:
    """Per-vertex colours as float64 (N, 3) in [0, 1] (uint8 input is divided by 255)."""
    if colors is None:
        return None
    c = np.asarray(colors)
    if c.ndim != 2 or c.shape != (n, 3):
        raise InputShapeError(f"colors must have shape ({n}, 3), got {c.shape}")
    if c.dtype == np.uint8:
        return c.astype(np.float64) / 255.0
    if not np.issubdtype(c.dtype, np.number):
        raise InputShapeError(f"colors must be numeric, got dtype {c.dtype}")
    return np.clip(np.nan_to_num(c.astype(np.float64)), 0.0, 1.0)


def format_rows(row_format: str, values: np.ndarray) -> str:
    """Format every row of a 2-D array with ``row_format`` in one C-level operation."""
    if values.shape[0] == 0:
        return ""
    return (row_format * values.shape[0]) % tuple(values.ravel().tolist())
