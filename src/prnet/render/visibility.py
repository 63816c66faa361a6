"""Per-vertex visibility from the z-buffer."""

from __future__ import annotations

import numpy as np

from prnet.errors import InputShapeError
from prnet.render.raster import Raster, check_triangles, check_vertices, rasterize

__all__ = ["DEFAULT_VISIBILITY_TOLERANCE", "vertex_visibility"]

#: Default depth tolerance (z units = image pixels).
DEFAULT_VISIBILITY_TOLERANCE = 1.0


def vertex_visibility(
    vertices: np.ndarray,
    triangles: np.ndarray,
    height: int,
    width: int,
    tolerance: float = DEFAULT_VISIBILITY_TOLERANCE,
    raster: Raster | None = None,
) -> np.ndarray:
    """Which vertices are seen by the (orthographic, +z looking) camera.

    A vertex is looked up at its pixel ``(round(x), round(y))`` (pixel centres at integers).
    It is visible when it lies inside the image and is not behind the visible surface there:
    ``z >= surface - tolerance``, where the surface z is taken both from the z-buffer at the
    pixel centre and from the plane of the visible triangle evaluated at the vertex's exact
    (x, y); passing either test suffices (the second removes the error of evaluating a
    slanted surface half a pixel away from the vertex). A pixel with no surface (possible on
    the silhouette, or for vertices no triangle uses) hides nothing, so such vertices are
    visible. Vertices outside the image or with non-finite coordinates are invisible.

    Args:
        vertices: (N, 3) float in image pixels (larger z nearer).
        triangles: (M, 3) integer indices.
        height: image height H.
        width: image width W.
        tolerance: depth slack in z units (image pixels), >= 0.
        raster: a :func:`rasterize` result of the same mesh and size to reuse (optional).

    Returns:
        (N,) bool.

    Raises:
        InputShapeError: on malformed inputs or a negative tolerance.
    """
    v = check_vertices(vertices)
    tri = check_triangles(triangles, v.shape[0])
    if not np.isfinite(tolerance) or tolerance < 0:
        raise InputShapeError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    r = raster if raster is not None else rasterize(v, tri, height, width)
    h, w = r.shape
    x, y, z = (v[:, k].astype(np.float64) for k in range(3))
    with np.errstate(invalid="ignore"):
        px = np.floor(x + 0.5)
        py = np.floor(y + 0.5)
        inside = (px >= 0) & (px < w) & (py >= 0) & (py < h) & np.isfinite(z)
    vis = np.zeros(v.shape[0], bool)
    idx = np.flatnonzero(inside)
    if idx.size == 0:
        return vis
    flat = py[idx].astype(np.int64) * w + px[idx].astype(np.int64)
    zbuf = r.depth.reshape(-1)[flat].astype(np.float64)
    t = r.triangle.reshape(-1)[flat]
    ok = zbuf - tolerance <= z[idx]  # also True on the background (-inf)

    # Plane of the visible triangle evaluated at the vertex's own (x, y).
    cov = np.flatnonzero((t >= 0) & ~ok)
    if cov.size:
        corners = tri[t[cov]]  # (K, 3)
        p = v[corners].astype(np.float64)  # (K, 3, 3)
        e1 = p[:, 1] - p[:, 0]
        e2 = p[:, 2] - p[:, 0]
        d = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
        qx = x[idx[cov]] - p[:, 0, 0]
        qy = y[idx[cov]] - p[:, 0, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            w1 = (qx * e2[:, 1] - qy * e2[:, 0]) / d
            w2 = (e1[:, 0] * qy - e1[:, 1] * qx) / d
            zp = p[:, 0, 2] + w1 * e1[:, 2] + w2 * e2[:, 2]
        ok[cov] = np.isfinite(zp) & (zp - tolerance <= z[idx[cov]])
    vis[idx] = ok
    return vis
