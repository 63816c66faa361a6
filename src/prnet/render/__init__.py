"""Vectorised z-buffer rendering (pure numpy, CPU).

Coordinates follow DEVELOPERS.md: x right, y down, pixel centres at integer coordinates,
larger z nearer the camera (the depth buffer keeps the largest z).

- :func:`rasterize` -> :class:`Raster` (depth, visible triangle id, barycentrics per pixel)
- :func:`render_depth`, :func:`render_colors`, :func:`render_texture`, :func:`render_shaded`
- :func:`vertex_visibility`, :func:`vertex_normals`, :func:`sample_bilinear`
"""

from prnet.render.images import (
    render_colors,
    render_depth,
    render_shaded,
    render_texture,
    sample_bilinear,
    vertex_normals,
)
from prnet.render.raster import Raster, interpolate, rasterize
from prnet.render.visibility import vertex_visibility

__all__ = [
    "Raster",
    "interpolate",
    "rasterize",
    "render_colors",
    "render_depth",
    "render_shaded",
    "render_texture",
    "sample_bilinear",
    "vertex_normals",
    "vertex_visibility",
]
