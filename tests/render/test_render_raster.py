"""Tests of the z-buffer rasteriser (prnet.render.raster)."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.errors import InputShapeError
from prnet.render import interpolate, raster, rasterize
from prnet.render.synthetic import grid_mesh


def brute_force(v: np.ndarray, tri: np.ndarray, h: int, w: int, eps: float = 1e-6):
    """Reference z-buffer: every pixel against every triangle (small scenes only)."""
    yy, xx = np.mgrid[0:h, 0:w]
    px = xx.reshape(-1, 1).astype(np.float64)
    py = yy.reshape(-1, 1).astype(np.float64)
    p = v[tri].astype(np.float64)
    x0, y0, z0 = p[:, 0, 0], p[:, 0, 1], p[:, 0, 2]
    e1 = p[:, 1] - p[:, 0]
    e2 = p[:, 2] - p[:, 0]
    d = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    good = np.abs(d) > 1e-12
    d = np.where(good, d, 1.0)
    w1 = ((px - x0) * e2[:, 1] - (py - y0) * e2[:, 0]) / d
    w2 = (e1[:, 0] * (py - y0) - e1[:, 1] * (px - x0)) / d
    inside = good & (w1 >= -eps) & (w2 >= -eps) & (w1 + w2 <= 1 + eps)
    z = np.where(inside, z0 + w1 * e1[:, 2] + w2 * e2[:, 2], -np.inf)
    depth = z.max(1).reshape(h, w)
    return depth, np.isfinite(depth)


def two_triangles():
    """A far triangle (z=1) and a nearer one (z=5) overlapping it."""
    v = np.array(
        [
            [0, 0, 1],
            [19, 0, 1],
            [0, 19, 1],  # far: covers x + y <= 19
            [2, 2, 5],
            [12, 2, 5],
            [2, 12, 5],  # near: covers x, y >= 2, x + y <= 14
        ],
        np.float32,
    )
    tri = np.array([[0, 1, 2], [3, 4, 5]])
    return v, tri


def test_two_triangles_nearer_wins():
    v, tri = two_triangles()
    for order in (tri, tri[::-1]):
        r = rasterize(v, order, 24, 24)
        near_id = int(np.flatnonzero((order == [3, 4, 5]).all(1))[0])
        assert r.depth[5, 5] == 5.0 and r.triangle[5, 5] == near_id  # overlap: near wins
        assert r.depth[0, 0] == 1.0 and r.triangle[0, 0] == 1 - near_id  # far only
        assert r.depth[15, 1] == 1.0
        assert r.depth[20, 20] == -np.inf and r.triangle[20, 20] == -1  # background
        assert np.all(r.bary[20, 20] == 0)
        assert int(r.mask.sum()) == 20 * 21 // 2  # x + y <= 19 on the integer grid
        assert int((r.depth == 5).sum()) == 11 * 12 // 2  # near triangle: dx + dy <= 10


def test_types_and_shapes():
    v, tri = two_triangles()
    r = rasterize(v.astype(np.float64), tri.astype(np.int32), 24, 30)
    assert r.depth.shape == (24, 30) and r.depth.dtype == np.float32
    assert r.triangle.shape == (24, 30) and r.triangle.dtype == np.int32
    assert r.bary.shape == (24, 30, 3) and r.bary.dtype == np.float32
    assert r.shape == (24, 30)
    np.testing.assert_allclose(r.bary.sum(-1)[r.mask], 1.0, atol=1e-6)


def test_slanted_plane_depth_exact():
    # z = 0.5 x + 0.25 y + 3 on a quad; depth must equal the plane at every covered centre.
    xy = np.array([[-0.3, -0.7], [40.2, 0.1], [39.6, 30.4], [0.4, 29.8]])
    v = np.c_[xy, 0.5 * xy[:, 0] + 0.25 * xy[:, 1] + 3]
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    r = rasterize(v, tri, 32, 42)
    yy, xx = np.mgrid[0:32, 0:42]
    m = r.mask
    np.testing.assert_allclose(r.depth[m], (0.5 * xx + 0.25 * yy + 3)[m], rtol=1e-6)
    assert m[1:29, 1:39].all()  # interior fully covered, no crack on the diagonal


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, h, w = 60, 37, 53
    # mix of big triangles (span path) and small ones (dense path)
    big = np.c_[rng.uniform(-10, 60, (n, 2)), rng.uniform(0, 10, n)]
    small = big + np.c_[rng.uniform(-2, 2, (n, 2)), rng.uniform(-1, 1, n)]
    v = np.concatenate([big, small]).astype(np.float32)
    tri = np.concatenate(
        [
            rng.integers(0, n, (30, 3)),
            np.c_[np.arange(n), np.arange(n) + n, (np.arange(n) + 1) % n + n],
        ]
    )
    depth, mask = brute_force(v, tri, h, w)
    for max_pairs in (7, 300, 1 << 16):
        r = rasterize(v, tri, h, w, max_pairs=max_pairs)
        assert np.array_equal(r.mask, mask)
        np.testing.assert_allclose(r.depth[mask], depth[mask], atol=1e-4, rtol=1e-5)


def test_chunking_does_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(7)
    v = np.c_[rng.uniform(-5, 45, (300, 2)), rng.uniform(0, 5, 300)].astype(np.float32)
    tri = rng.integers(0, 300, (400, 3))
    ref = rasterize(v, tri, 40, 40)
    monkeypatch.setattr(raster, "_TRI_CHUNK", 7)
    r = rasterize(v, tri, 40, 40, max_pairs=13)
    assert np.array_equal(r.triangle, ref.triangle)
    assert np.array_equal(r.depth, ref.depth)
    assert np.array_equal(r.bary, ref.bary)


def test_sphere_depth_matches_analytic():
    # UV sphere of radius R centred at (cx, cy, cz); front surface z = cz + sqrt(R^2 - r^2).
    R, cx, cy, cz = 40.0, 50.3, 47.8, 10.0
    nt, npi = 90, 180
    theta = np.linspace(0, np.pi, nt)
    phi = np.linspace(0, 2 * np.pi, npi, endpoint=False)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    v = np.stack(
        [cx + R * np.sin(th) * np.cos(ph), cy + R * np.sin(th) * np.sin(ph), cz + R * np.cos(th)],
        -1,
    ).reshape(-1, 3)
    idx = np.arange(nt * npi).reshape(nt, npi)
    a, b = idx[:-1], np.roll(idx, -1, axis=1)[:-1]
    c, d = idx[1:], np.roll(idx, -1, axis=1)[1:]
    tri = np.concatenate(
        [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)]
    )
    r = rasterize(v.astype(np.float32), tri, 100, 100)
    yy, xx = np.mgrid[0:100, 0:100]
    rr2 = (xx - cx) ** 2 + (yy - cy) ** 2
    disk = rr2 < (R - 1.0) ** 2
    assert r.mask[disk].all()  # no cracks
    assert not r.mask[rr2 > (R + 0.5) ** 2].any()
    analytic = cz + np.sqrt(np.clip(R**2 - rr2, 0, None))
    inner = rr2 < (0.9 * R) ** 2  # away from the grazing silhouette
    err = np.abs(r.depth[inner] - analytic[inner])
    assert err.max() < 0.2  # chord error of the tessellation (R (1 - cos(pi/180)) ~ 0.006 ...)
    assert r.depth[disk].min() > cz - 1e-3  # the front half wins everywhere


def test_linear_attributes_interpolated_exactly():
    v, tri = grid_mesh(30, offset=3.3, scale=1.7)
    attr = np.stack([2 * v[:, 0] + 1, -v[:, 1] + 3 * v[:, 2], np.full(len(v), 0.5, np.float32)], 1)
    r = rasterize(v, tri, 60, 60)
    img = interpolate(r, tri, attr, background=(-1, -2, -3))
    yy, xx = np.mgrid[0:60, 0:60]
    m = r.mask
    np.testing.assert_allclose(img[..., 0][m], (2 * xx + 1)[m], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(img[..., 1][m], (-yy + 3 * r.depth)[m], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(img[..., 2][m], 0.5, rtol=1e-6)
    assert (img[~m] == [-1, -2, -3]).all()
    assert r.interpolate(tri, attr[:, 0]).shape == (60, 60)


def test_grid_on_pixel_centres_has_no_cracks():
    # vertices exactly on pixel centres: every edge passes through pixel centres
    v, tri = grid_mesh(41, offset=0.0, scale=1.0)
    v[:, 2] = 0.0
    r = rasterize(v, tri, 41, 41)
    assert r.mask.all()
    v8 = v * np.array([4, 4, 1], np.float32)  # bigger triangles: span path
    assert rasterize(v8, tri, 161, 161).mask.all()


def test_tie_goes_to_larger_triangle_id_and_is_chunk_independent():
    v = np.array([[0, 0, 2], [30, 0, 2], [0, 30, 2]], np.float32)
    tri = np.array([[0, 1, 2], [0, 2, 1], [1, 2, 0]])
    for mp in (5, 1 << 16):
        r = rasterize(v, tri, 32, 32, max_pairs=mp)
        assert set(np.unique(r.triangle[r.mask])) == {2}


def test_degenerate_nonfinite_and_offscreen_triangles_are_skipped():
    v = np.array(
        [
            [0, 0, 0],
            [5, 5, 0],
            [10, 10, 0],  # collinear
            [np.nan, 1, 1],
            [3, 3, 1],
            [1, 3, 1],  # NaN corner
            [-50, -50, 0],
            [-40, -50, 0],
            [-50, -40, 0],
        ],  # off-screen
        np.float32,
    )
    tri = np.arange(9).reshape(3, 3)
    r = rasterize(v, tri, 16, 16)
    assert not r.mask.any()
    r = rasterize(v, np.zeros((0, 3), np.int64), 4, 5)
    assert r.depth.shape == (4, 5) and np.isneginf(r.depth).all()


def test_partially_offscreen_triangle_is_clipped():
    v = np.array([[-100, -100, 1], [300, -100, 1], [-100, 300, 1]], np.float32)
    r = rasterize(v, np.array([[0, 1, 2]]), 50, 60)
    assert r.mask.all()


def test_bad_inputs_raise_clear_errors():
    v, tri = two_triangles()
    with pytest.raises(InputShapeError, match=r"vertices must have shape \(N, 3\), got \(6, 2\)"):
        rasterize(v[:, :2], tri, 10, 10)
    with pytest.raises(InputShapeError, match=r"triangles must have shape \(M, 3\)"):
        rasterize(v, tri[:, :2], 10, 10)
    with pytest.raises(InputShapeError, match=r"indices must lie in \[0, 5\]"):
        rasterize(v, tri + 1, 10, 10)
    with pytest.raises(InputShapeError, match="integer indices"):
        rasterize(v, tri.astype(float), 10, 10)
    with pytest.raises(InputShapeError, match="positive integers"):
        rasterize(v, tri, 0, 10)
    with pytest.raises(InputShapeError, match="positive integers"):
        rasterize(v, tri, 10.5, 10)
