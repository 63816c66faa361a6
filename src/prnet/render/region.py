"""Rasterising a mesh inside a rectangle of the image instead of the whole frame.

A face covers a small part of a phone photo, so its z-buffer, visibility and depth are computed
over :class:`Region` — the pixel box the mesh can cover — with the vertices shifted by the
region's integer offset. The shift is exact (float64), and the rasteriser works in the mesh's
box anyway, so the results equal the full-frame ones: the region raster is the same crop of the
full-frame raster, and the full frame is background outside the region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prnet.render.raster import Raster, check_triangles, check_vertices, rasterize
from prnet.render.visibility import vertex_visibility

__all__ = ["Region", "mesh_region", "paste", "place_raster", "rasterize_region", "region_visibility",
           "shifted"]


@dataclass(frozen=True)
class Region:
    """A rectangle of pixels of an image: columns ``x0 .. x0 + width - 1`` and rows
    ``y0 .. y0 + height - 1`` (pixel centres at integers). ``width``/``height`` may be 0."""

    x0: int
    y0: int
    width: int
    height: int

    @classmethod
    def full(cls, height: int, width: int) -> Region:
        """The whole (height, width) image."""
        return cls(0, 0, int(width), int(height))

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, columns)`` slices selecting the region from an image array."""
        return slice(self.y0, self.y0 + self.height), slice(self.x0, self.x0 + self.width)

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The region of ``image`` (a view)."""
        return image[self.slices]

    def to_list(self) -> list[int]:
        """``[x0, y0, width, height]`` (as recorded in ``<stem>.json``)."""
        return [int(self.x0), int(self.y0), int(self.width), int(self.height)]

    def expand(self, fraction: float, height: int, width: int) -> Region:
        """The region grown by ``fraction`` of its width (left and right) and of its height
        (top and bottom), rounded up to whole pixels and clipped to a (height, width) image."""
        mx = int(np.ceil(fraction * self.width))
        my = int(np.ceil(fraction * self.height))
        x0, y0 = max(0, self.x0 - mx), max(0, self.y0 - my)
        x1 = min(int(width), self.x0 + self.width + mx)
        y1 = min(int(height), self.y0 + self.height + my)
        return Region(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def shifted(vertices: np.ndarray, region: Region) -> np.ndarray:
    """(N, C) float64 vertices with x, y in the region's pixels (exact for float32 input)."""
    v = np.array(vertices, dtype=np.float64)
    v[:, 0] -= region.x0
    v[:, 1] -= region.y0
    return v


def mesh_region(vertices: np.ndarray, triangles: np.ndarray, height: int, width: int) -> Region:
    """The box of the pixel centres a mesh can cover in a (height, width) image: from the
    vertices the triangles use (finite x, y), clipped to the image (empty when outside).

    This is the rectangle :func:`prnet.render.rasterize` works in; nothing outside it is
    covered.
    """
    v = check_vertices(vertices)
    tri = check_triangles(triangles, v.shape[0])
    used = np.zeros(v.shape[0], bool)
    used[tri.ravel()] = True
    x, y = v[:, 0].astype(np.float64), v[:, 1].astype(np.float64)
    used &= np.isfinite(x) & np.isfinite(y)
    if not used.any():
        return Region(0, 0, 0, 0)
    x0 = int(np.clip(np.ceil(x[used].min()), 0, width))
    y0 = int(np.clip(np.ceil(y[used].min()), 0, height))
    x1 = int(np.clip(np.floor(x[used].max()), -1, width - 1))
    y1 = int(np.clip(np.floor(y[used].max()), -1, height - 1))
    if x1 < x0 or y1 < y0:
        return Region(0, 0, 0, 0)
    return Region(x0, y0, x1 - x0 + 1, y1 - y0 + 1)


def rasterize_region(vertices: np.ndarray, triangles: np.ndarray, region: Region) -> Raster:
    """:func:`prnet.render.rasterize` of the mesh over ``region`` only: (region.height,
    region.width) arrays equal to that crop of the full-frame raster. An empty region gives a
    1×1 background raster."""
    if region.empty:
        return Raster(depth=np.full((1, 1), -np.inf, np.float32),
                      triangle=np.full((1, 1), -1, np.int32), bary=np.zeros((1, 1, 3), np.float32))
    return rasterize(shifted(vertices, region), triangles, region.height, region.width)


def region_visibility(vertices: np.ndarray, triangles: np.ndarray, height: int, width: int,
                      tolerance: float, raster: Raster, region: Region) -> np.ndarray:
    """:func:`prnet.render.vertex_visibility` in a (height, width) image from a raster of
    ``region`` only (:func:`rasterize_region`); equal to the full-frame result.

    Vertices inside the image but outside the region have no surface at their pixel, so they
    are visible (as in the full frame); the others are tested against the region's raster.
    """
    v = check_vertices(vertices)
    x, y, z = (v[:, k].astype(np.float64) for k in range(3))
    with np.errstate(invalid="ignore"):
        px, py = np.floor(x + 0.5), np.floor(y + 0.5)
        in_image = (px >= 0) & (px < width) & (py >= 0) & (py < height) & np.isfinite(z)
        in_region = ((px >= region.x0) & (px < region.x0 + region.width)
                     & (py >= region.y0) & (py < region.y0 + region.height))
    if region.empty:
        return in_image
    vis = vertex_visibility(shifted(v, region), triangles, region.height, region.width,
                            tolerance, raster=raster)
    return in_image & (vis | ~in_region)


def paste(values: np.ndarray, source: Region, target: Region, fill: float = 0) -> np.ndarray:
    """``values`` (the pixels of ``source``) placed on a canvas of ``target`` filled with
    ``fill``; the part of ``source`` outside ``target`` is dropped."""
    out = np.full(target.shape + values.shape[2:], fill, dtype=values.dtype)
    x0, y0 = max(source.x0, target.x0), max(source.y0, target.y0)
    x1 = min(source.x0 + source.width, target.x0 + target.width)
    y1 = min(source.y0 + source.height, target.y0 + target.height)
    if x1 > x0 and y1 > y0:
        out[y0 - target.y0:y1 - target.y0, x0 - target.x0:x1 - target.x0] = \
            values[y0 - source.y0:y1 - source.y0, x0 - source.x0:x1 - source.x0]
    return out


def place_raster(raster: Raster, source: Region, target: Region) -> Raster:
    """A raster of ``source`` placed on a background raster of ``target`` (depth -inf,
    triangle -1, barycentrics 0); an empty ``source`` gives the background alone."""
    return Raster(depth=paste(raster.depth, source, target, -np.inf),
                  triangle=paste(raster.triangle, source, target, -1),
                  bary=paste(raster.bary, source, target, 0))
