"""Vectorised z-buffer rasteriser (orthographic, CPU, pure numpy, no compiled extension).

Conventions (see DEVELOPERS.md): x to the right, y downwards, pixel centres at integer
coordinates, and larger z is nearer the camera, so the depth buffer keeps the *largest* z.

Algorithm (every step vectorised; triangles are processed in chunks of ``_TRI_CHUNK`` and
candidate pairs in chunks of ``max_pairs``, so memory stays bounded and work arrays stay
small; only the rectangle spanned by the mesh inside the image is touched):

1. per triangle: barycentric and depth planes (float64) and the integer box of the pixel
   centres it may cover, clipped to the image; degenerate or non-finite triangles dropped;
2. small triangles (box at most ``_DENSE`` x ``_DENSE`` pixels, i.e. nearly all triangles of
   a face mesh at photo resolution) are grouped by box size and tested densely: every
   (triangle, pixel of its box) pair gets a barycentric inside-test at the pixel centre;
3. larger triangles are scan-converted: for each (triangle, pixel row) the exact span of
   covered pixel centres is solved from the three barycentric half-planes, and only the
   pixels of those spans are enumerated;
4. each covered (triangle, pixel) pair gets z from the triangle's plane, packed with the
   triangle id into one orderable int64 key ``(z bits << 32) | triangle``; the per-pixel
   maximum (``np.maximum.at``) keeps the nearest surface. Exact depth ties go to the larger
   triangle id, so the result does not depend on chunking;
5. barycentric weights of every covered pixel from the winning triangle's planes.

Pixel centres exactly on an edge shared by two triangles are covered by both (the inside-test
has a tolerance of ``INSIDE_EPS`` in barycentric units), so closed meshes have no cracks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from prnet.errors import InputShapeError

__all__ = ["DEFAULT_MAX_PAIRS", "INSIDE_EPS", "Raster", "interpolate", "rasterize"]

#: Tolerance of the barycentric inside-test (barycentric units).
INSIDE_EPS = 1e-6
#: Default number of (pixel, triangle) candidates processed per chunk (~50 bytes each).
DEFAULT_MAX_PAIRS = 1 << 16
#: Largest box side (pixels) handled by the dense path.
_DENSE = 4
#: Triangles processed per chunk (small work arrays stay in cache and get recycled).
_TRI_CHUNK = 8192
#: Twice the signed area (px^2) below which a triangle is degenerate and skipped.
_MIN_AREA2 = 1e-12
_EMPTY = np.iinfo(np.int64).min
_LOW32 = np.int64(0xFFFFFFFF)
_MANT31 = np.int32(0x7FFFFFFF)


@dataclass(frozen=True)
class Raster:
    """Result of :func:`rasterize`.

    Attributes:
        depth: (H, W) float32, z of the nearest surface at each pixel centre (larger z is
            nearer). Background pixels are ``-inf``.
        triangle: (H, W) int32, index of the visible triangle, ``-1`` for background.
        bary: (H, W, 3) float32, barycentric weights of the pixel centre with respect to the
            three corners of ``triangle`` (in the order of the triangle's indices); they sum
            to 1 on covered pixels (each is >= -INSIDE_EPS) and are 0 on the background.
    """

    depth: np.ndarray
    triangle: np.ndarray
    bary: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True where some triangle covers the pixel centre."""
        return self.triangle >= 0

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W)."""
        return (int(self.triangle.shape[0]), int(self.triangle.shape[1]))

    def interpolate(
        self,
        triangles: np.ndarray,
        attributes: np.ndarray,
        background: float | np.ndarray | None = None,
    ) -> np.ndarray:
        """Barycentric interpolation of per-vertex attributes; see :func:`interpolate`."""
        return interpolate(self, triangles, attributes, background)


# --------------------------------------------------------------------------- input checks


def check_vertices(vertices: np.ndarray, dims: int = 3, name: str = "vertices") -> np.ndarray:
    """Return ``vertices`` as an array after checking it is numeric with shape (N, >=dims)."""
    v = np.asarray(vertices)
    if v.ndim != 2 or v.shape[1] < dims:
        raise InputShapeError(f"{name} must have shape (N, {dims}), got {v.shape}")
    if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
        raise InputShapeError(f"{name} must be numeric, got dtype {v.dtype}")
    return v


def check_triangles(triangles: np.ndarray, n_vertices: int) -> np.ndarray:
    """Return ``triangles`` as int64 (M, 3) after checking shape, dtype and index range."""
    t = np.asarray(triangles)
    if t.ndim != 2 or t.shape[1] != 3:
        raise InputShapeError(f"triangles must have shape (M, 3), got {t.shape}")
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise InputShapeError(f"triangles must be integer indices, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    if t.size and (t.min() < 0 or t.max() >= n_vertices):
        raise InputShapeError(
            f"triangle indices must lie in [0, {n_vertices - 1}], got range [{t.min()}, {t.max()}]"
        )
    return t


def check_size(height: int, width: int) -> tuple[int, int]:
    """Return (height, width) as ints after checking they are positive integers."""
    try:
        h, w = int(height), int(width)
    except (TypeError, ValueError):
        raise InputShapeError(
            f"image size must be positive integers, got {height!r}x{width!r}"
        ) from None
    if h <= 0 or w <= 0 or h != height or w != width:
        raise InputShapeError(f"image size must be positive integers, got {height!r}x{width!r}")
    return h, w


# --------------------------------------------------------------------------- geometry


@dataclass
class _Planes:
    """Per-triangle float64 data (only for the triangles kept, ``ids``)."""

    ids: np.ndarray  # (K,) int64 triangle index
    x0: np.ndarray  # first corner
    y0: np.ndarray
    a1: np.ndarray  # w1 = a1 (x - x0) + b1 (y - y0)
    b1: np.ndarray
    a2: np.ndarray  # w2 = a2 (x - x0) + b2 (y - y0)
    b2: np.ndarray
    z0: np.ndarray  # z  = z0 + az (x - x0) + bz (y - y0)
    az: np.ndarray
    bz: np.ndarray
    bx0: np.ndarray  # box of covered pixel centres (int64, inclusive)
    by0: np.ndarray
    bw: np.ndarray
    bh: np.ndarray

    def take(self, sel: np.ndarray) -> _Planes:
        return _Planes(**{k: getattr(self, k)[sel] for k in self.__dataclass_fields__})


def _planes(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, tri: np.ndarray, h: int, w: int, first_id: int
) -> _Planes:
    """Planes and boxes of ``tri`` (ids ``first_id + row``) in an h x w pixel grid."""
    i0, i1, i2 = (np.ascontiguousarray(tri[:, k]) for k in range(3))
    x0, x1, x2 = x[i0], x[i1], x[i2]
    y0, y1, y2 = y[i0], y[i1], y[i2]
    z0 = z[i0]
    e1x, e1y, e1z = x1 - x0, y1 - y0, z[i1] - z0
    e2x, e2y, e2z = x2 - x0, y2 - y0, z[i2] - z0
    with np.errstate(invalid="ignore", over="ignore"):
        d = e1x * e2y - e2x * e1y
        bx0 = np.ceil(np.minimum(np.minimum(x0, x1), x2))
        bx1 = np.floor(np.maximum(np.maximum(x0, x1), x2))
        by0 = np.ceil(np.minimum(np.minimum(y0, y1), y2))
        by1 = np.floor(np.maximum(np.maximum(y0, y1), y2))
        np.clip(bx0, 0, w, out=bx0)
        np.clip(bx1, -1, w - 1, out=bx1)
        np.clip(by0, 0, h, out=by0)
        np.clip(by1, -1, h - 1, out=by1)
        # NaN/inf corners make d or the z sum non-finite, or the box comparisons False.
        ok = (np.abs(d) > _MIN_AREA2) & np.isfinite(d) & np.isfinite(z0 + e1z + e2z)
        ok &= (bx1 >= bx0) & (by1 >= by0)
    ids = np.flatnonzero(ok)
    sel = slice(None) if ids.size == ok.size else ids  # no copies in the common case
    ids = ids + first_id
    inv = 1.0 / d[sel]
    e1x, e1y, e1z, e2x, e2y, e2z = (a[sel] for a in (e1x, e1y, e1z, e2x, e2y, e2z))
    a1, b1 = e2y * inv, -e2x * inv
    a2, b2 = -e1y * inv, e1x * inv
    bx0, by0 = bx0[sel].astype(np.int64), by0[sel].astype(np.int64)
    return _Planes(
        ids=ids,
        x0=x0[sel],
        y0=y0[sel],
        a1=a1,
        b1=b1,
        a2=a2,
        b2=b2,
        z0=z0[sel],
        az=a1 * e1z + a2 * e2z,
        bz=b1 * e1z + b2 * e2z,
        bx0=bx0,
        by0=by0,
        bw=bx1[sel].astype(np.int64) - bx0 + 1,
        bh=by1[sel].astype(np.int64) - by0 + 1,
    )


def _float_key(z: np.ndarray) -> np.ndarray:
    """Map float32 to int32 so that integer order equals float order."""
    i = z.view(np.int32)
    return i ^ ((i >> 31) & _MANT31)


def _key_float(k: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_float_key`."""
    return (k ^ ((k >> 31) & _MANT31)).view(np.float32)


def _pack(z: np.ndarray, tri_id: np.ndarray) -> np.ndarray:
    return (_float_key(z.astype(np.float32)).astype(np.int64) << 32) | tri_id


# --------------------------------------------------------------------------- candidates


def _dense_pairs(p: _Planes, w: int, max_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(flat pixel, key) for small triangles, tested on every pixel of their box."""
    bucket = (p.bh - 1) * _DENSE + (p.bw - 1)
    order = np.argsort(bucket, kind="stable")
    counts = np.bincount(bucket, minlength=_DENSE * _DENSE)
    ends = np.cumsum(counts)
    for b in np.flatnonzero(counts):
        bw, bh = int(b % _DENSE) + 1, int(b // _DENSE) + 1
        dx = np.tile(np.arange(bw, dtype=np.float64), bh)
        dy = np.repeat(np.arange(bh, dtype=np.float64), bw)
        offs = np.repeat(np.arange(bh), bw) * w + np.tile(np.arange(bw), bh)
        step = max(1, max_pairs // (bw * bh))
        for s in range(int(ends[b] - counts[b]), int(ends[b]), step):
            q = p.take(order[s : min(s + step, int(ends[b]))])
            cx = (q.bx0 - q.x0)[:, None] + dx  # pixel centre relative to corner 0
            cy = (q.by0 - q.y0)[:, None] + dy
            w1 = q.a1[:, None] * cx + q.b1[:, None] * cy
            w2 = q.a2[:, None] * cx + q.b2[:, None] * cy
            inside = (w1 >= -INSIDE_EPS) & (w2 >= -INSIDE_EPS) & (w1 + w2 <= 1 + INSIDE_EPS)
            z = q.z0[:, None] + q.az[:, None] * cx + q.bz[:, None] * cy
            key = np.where(inside, _pack(z, q.ids[:, None]), _EMPTY)
            yield ((q.by0 * w + q.bx0)[:, None] + offs).ravel(), key.ravel()


def _span_pairs(p: _Planes, w: int, max_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(flat pixel, key) for larger triangles, enumerated row span by row span."""
    # Barycentric planes relative to the top-left pixel centre (bx0, by0) of each box:
    # w_i(dx, dy) = a_i dx + b_i dy + c_i for i = 1, 2, and w_0 = 1 - w_1 - w_2.
    cx, cy = p.bx0 - p.x0, p.by0 - p.y0
    a = np.stack([p.a1, p.a2, -(p.a1 + p.a2)], 1)
    b = np.stack([p.b1, p.b2, -(p.b1 + p.b2)], 1)
    c = np.stack([p.a1 * cx + p.b1 * cy, p.a2 * cx + p.b2 * cy], 1)
    c = np.concatenate([c, 1.0 - c.sum(1, keepdims=True)], 1)
    # On row dy, w_i >= -eps  <=>  dx >= t_i(dy) if a_i > 0, dx <= t_i(dy) if a_i < 0, with
    # t_i(dy) = t0_i + t1_i dy. Horizontal edges (a_i = 0) need no test: the box rows lie in
    # the triangle's y-extent. The a_i sum to 0, so each kind has one or two lines; keep two
    # of each (the first and the last of that kind, which coincide when there is one).
    with np.errstate(divide="ignore", invalid="ignore"):
        t0 = (-INSIDE_EPS - c) / a
        t1 = -b / a
    rows_m = np.arange(len(a))[:, None]
    lines = []
    for kind in (a > 0, a < 0):
        first = np.argmax(kind, axis=1)[:, None]
        last = 2 - np.argmax(kind[:, ::-1], axis=1)[:, None]
        for k in (first, last):
            lines += [t0[rows_m, k][:, 0], t1[rows_m, k][:, 0]]
    lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3 = lines
    bwm1 = (p.bw - 1).astype(np.float64)
    cz = p.z0 + p.az * cx + p.bz * cy
    base = p.by0 * w + p.bx0

    cum = np.cumsum(p.bh)
    max_rows = max(1, max_pairs // 8)
    for e0, e1 in _runs(cum, max_rows):
        hh = p.bh[e0:e1]
        e = np.repeat(np.arange(e0, e1), hh)
        dy = np.arange(e.size) - np.repeat(cum[e0:e1] - hh - (cum[e0 - 1] if e0 else 0), hh)
        dy = dy.astype(np.float64)
        lo = np.maximum(lo0[e] + lo1[e] * dy, lo2[e] + lo3[e] * dy)
        lo = np.ceil(np.maximum(lo, 0.0))
        hi = np.minimum(hi0[e] + hi1[e] * dy, hi2[e] + hi3[e] * dy)
        hi = np.floor(np.minimum(hi, bwm1[e]))
        span = np.maximum(hi - lo + 1.0, 0.0).astype(np.int64)
        keep = np.flatnonzero(span)
        e, dy, lo, span = e[keep], dy[keep], lo[keep], span[keep]
        zl = cz[e] + p.bz[e] * dy + p.az[e] * lo
        first = base[e] + dy.astype(np.int64) * w + lo.astype(np.int64)
        az = p.az[e]
        tid = p.ids[e]
        scum = np.cumsum(span)
        for r0, r1 in _runs(scum, max_pairs):
            sp = span[r0:r1]
            r = np.repeat(np.arange(r0, r1), sp)
            k = np.arange(r.size) - np.repeat(scum[r0:r1] - sp - (scum[r0 - 1] if r0 else 0), sp)
            z = zl[r] + az[r] * k
            yield first[r] + k, _pack(z, tid[r])


def _runs(cum: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Cut items with cumulative counts ``cum`` into consecutive runs of <= ~2*limit."""
    n = cum.size
    if n == 0:
        return []
    total = int(cum[-1])
    if total <= limit:
        return [(0, n)]
    cuts = np.searchsorted(cum, np.arange(1, total // limit + 1) * limit, side="left") + 1
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts, n), [n]]))
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


# --------------------------------------------------------------------------- public API


def background_canvas(n: int, channels: int, background: float | np.ndarray | None) -> np.ndarray:
    """(n, channels) float32 pixels: zeros, or ``background`` (a scalar or (channels,)) everywhere.

    Raises:
        InputShapeError: ``background`` is neither a scalar nor (channels,).
    """
    out = np.zeros((n, channels), np.float32)
    if background is not None:
        bg = np.asarray(background, np.float32)
        if bg.ndim > 1 or (bg.ndim == 1 and bg.shape[0] != channels):
            raise InputShapeError(
                f"background must be a scalar or have shape ({channels},), got {bg.shape}"
            )
        out[:] = bg
    return out


def rasterize(
    vertices: np.ndarray,
    triangles: np.ndarray,
    height: int,
    width: int,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> Raster:
    """Rasterise a triangle mesh with a z-buffer (orthographic projection along z).

    Args:
        vertices: (N, 3) float, ``(x, y, z)`` in pixels of the target image (pixel centres at
            integer coordinates, y down, larger z nearer). Extra columns are ignored.
        triangles: (M, 3) integer indices into ``vertices``. Winding does not matter (no
            back-face culling; the depth test decides). Triangles with non-finite corners or
            zero area are skipped.
        height: image height H.
        width: image width W.
        max_pairs: candidate (pixel, triangle) pairs per chunk; bounds the working memory
            (roughly 50 bytes per pair) besides the (H, W) outputs.

    Returns:
        :class:`Raster` with ``depth`` (H, W) float32 (``-inf`` on the background),
        ``triangle`` (H, W) int32 (``-1`` on the background) and ``bary`` (H, W, 3) float32.

    Raises:
        InputShapeError: if an array has the wrong shape or dtype, an index is out of range,
            or the size is not positive.

    Example:
        >>> v = np.array([[0, 0, 1], [9, 0, 1], [0, 9, 1]], np.float32)
        >>> r = rasterize(v, np.array([[0, 1, 2]]), 10, 10)
        >>> int(r.mask.sum()), float(r.depth[0, 0]), int(r.triangle[9, 9])
        (55, 1.0, -1)
    """
    v = check_vertices(vertices)
    tri = check_triangles(triangles, v.shape[0])
    h, w = check_size(height, width)
    if int(max_pairs) < 1:
        raise InputShapeError(f"max_pairs must be >= 1, got {max_pairs}")
    max_pairs = int(max_pairs)

    depth = np.full((h, w), -np.inf, dtype=np.float32)
    winner = np.full((h, w), -1, dtype=np.int32)
    bary = np.zeros((h, w, 3), dtype=np.float32)
    x, y, z = (np.array(v[:, k], dtype=np.float64) for k in range(3))

    # Work inside the rectangle spanned by the vertices in use (clipped to the image), with
    # coordinates relative to its corner.
    used = np.zeros(v.shape[0], bool)
    used[tri.ravel()] = True
    used &= np.isfinite(x) & np.isfinite(y)
    if not used.any():
        return Raster(depth=depth, triangle=winner, bary=bary)
    rx0 = int(np.clip(np.ceil(x[used].min()), 0, w))
    ry0 = int(np.clip(np.ceil(y[used].min()), 0, h))
    rx1 = int(np.clip(np.floor(x[used].max()), -1, w - 1))
    ry1 = int(np.clip(np.floor(y[used].max()), -1, h - 1))
    if rx1 < rx0 or ry1 < ry0:
        return Raster(depth=depth, triangle=winner, bary=bary)
    rw, rh = rx1 - rx0 + 1, ry1 - ry0 + 1
    x -= rx0
    y -= ry0

    keys = np.full(rh * rw, _EMPTY, dtype=np.int64)
    kept = []
    for s in range(0, tri.shape[0], _TRI_CHUNK):
        p = _planes(x, y, z, tri[s : s + _TRI_CHUNK], rh, rw, s)
        small = (p.bw <= _DENSE) & (p.bh <= _DENSE)
        if small.all():
            parts = [_dense_pairs(p, rw, max_pairs)]
        else:
            parts = [
                _dense_pairs(p.take(np.flatnonzero(small)), rw, max_pairs),
                _span_pairs(p.take(np.flatnonzero(~small)), rw, max_pairs),
            ]
        for part in parts:
            for pix, key in part:
                np.maximum.at(keys, pix, key)
        kept.append((p.ids, p.x0, p.y0, p.a1, p.b1, p.a2, p.b2))
    ids, x0, y0, a1, b1, a2, b2 = (np.concatenate(c) for c in zip(*kept, strict=True))
    if ids.size == 0:
        return Raster(depth=depth, triangle=winner, bary=bary)

    # Decode the keys band by band of rows; triangle id -> row of the plane arrays.
    row_of = np.zeros(tri.shape[0], np.int64)
    row_of[ids] = np.arange(ids.size)
    xs = np.arange(rw, dtype=np.float64)
    band = max(1, max_pairs // rw)
    for r in range(0, rh, band):
        k = keys[r * rw : (r + band) * rw].reshape(-1, rw)
        ys = np.arange(r, r + k.shape[0], dtype=np.float64)[:, None]
        m = k != _EMPTY
        t = k & _LOW32  # 0 on the background (masked below)
        j = row_of[t]
        cx = xs - x0[j]
        cy = ys - y0[j]
        w1 = a1[j] * cx + b1[j] * cy
        w2 = a2[j] * cx + b2[j] * cy
        b = np.stack([1.0 - w1 - w2, w1, w2], axis=-1).astype(np.float32)
        b[~m] = 0.0
        sl = (slice(ry0 + r, ry0 + r + k.shape[0]), slice(rx0, rx0 + rw))
        bary[sl] = b
        winner[sl] = np.where(m, t, -1)
        depth[sl] = np.where(m, _key_float((k >> 32).astype(np.int32)), -np.inf)
    return Raster(depth=depth, triangle=winner, bary=bary)


def interpolate(
    raster: Raster,
    triangles: np.ndarray,
    attributes: np.ndarray,
    background: float | np.ndarray | None = None,
) -> np.ndarray:
    """Interpolate per-vertex attributes over the covered pixels of ``raster``.

    Exact for attributes that are linear (affine) functions of the vertex positions.

    Args:
        raster: result of :func:`rasterize` for the same ``triangles``.
        triangles: (M, 3) integer indices used to build ``raster``.
        attributes: (N,) or (N, C) per-vertex values (colours, UV coordinates, positions...).
        background: value of uncovered pixels: a scalar or a (C,) vector; None means 0.

    Returns:
        (H, W, C) float32, or (H, W) for 1-D ``attributes``.

    Raises:
        InputShapeError: if ``attributes``, ``triangles`` or ``background`` have a wrong
            shape.
    """
    attr = np.asarray(attributes)
    squeeze = attr.ndim == 1
    if squeeze:
        attr = attr[:, None]
    if attr.ndim != 2:
        raise InputShapeError(f"attributes must have shape (N,) or (N, C), got {attr.shape}")
    tri = check_triangles(triangles, attr.shape[0])
    h, w = raster.shape
    c = attr.shape[1]
    out = background_canvas(h * w, c, background)
    flat_t = raster.triangle.reshape(-1)
    fg = np.flatnonzero(flat_t >= 0)
    if fg.size:
        if flat_t[fg].max() >= tri.shape[0]:
            raise InputShapeError("raster was made with more triangles than were given")
        corners = tri[flat_t[fg]]  # (F, 3)
        b = raster.bary.reshape(-1, 3)[fg]
        a32 = attr.astype(np.float32, copy=False)
        out[fg] = (
            b[:, 0:1] * a32[corners[:, 0]]
            + b[:, 1:2] * a32[corners[:, 1]]
            + b[:, 2:3] * a32[corners[:, 2]]
        )
    out = out.reshape(h, w, c)
    return out[:, :, 0] if squeeze else out
