"""Tests of depth / colour / texture / shading renders and vertex visibility."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.errors import InputShapeError
from prnet.render import (
    rasterize,
    render_colors,
    render_depth,
    render_shaded,
    render_texture,
    sample_bilinear,
    vertex_normals,
    vertex_visibility,
)
from prnet.render.synthetic import grid_mesh


def occlusion_scene():
    """Far triangle (z=1) with its vertex 3 at (6, 6) hidden under a near one (z=5)."""
    v = np.array(
        [
            [2, 2, 5],
            [14, 2, 5],
            [2, 14, 5],  # near
            [6, 6, 1],
            [18, 6, 1],
            [6, 18, 1],  # far, vertex 3 under the near one
            [40, 40, 9],  # outside a 20x20 image
        ],
        np.float32,
    )
    return v, np.array([[0, 1, 2], [3, 4, 5]])


def test_render_depth_raw_and_normalized():
    v, tri = occlusion_scene()
    d = render_depth(v, tri, 20, 20)
    assert d.dtype == np.float32 and d.shape == (20, 20)
    assert d[3, 3] == 5.0 and d[17, 7] == 1.0 and d[0, 0] == 0.0
    n = render_depth(v, tri, 20, 20, normalize=True)
    # vertices used by triangles span z in [1, 5]: near -> 1, far -> 0, background 0
    assert n[3, 3] == 1.0 and n[17, 7] == 0.0 and n[0, 0] == 0.0
    assert n.min() >= 0 and n.max() <= 1


def test_vertex_visibility_occluded_vertex():
    v, tri = occlusion_scene()
    vis = vertex_visibility(v, tri, 20, 20)
    assert vis.dtype == bool and vis.shape == (7,)
    assert vis.tolist() == [True, True, True, False, True, True, False]
    # a generous tolerance lets the occluded vertex through
    assert vertex_visibility(v, tri, 20, 20, tolerance=10)[3]
    with pytest.raises(InputShapeError, match="tolerance"):
        vertex_visibility(v, tri, 20, 20, tolerance=-1)


def test_vertex_visibility_on_slanted_surface_and_sphere_back():
    # steep but visible surface: every vertex of a slanted grid is visible
    v, tri = grid_mesh(20, offset=2.3, scale=2.1)
    v[:, 2] = 3.0 * v[:, 0] - 2.0 * v[:, 1]
    assert vertex_visibility(v, tri, 50, 50, tolerance=0.01).all()
    # a sphere: front hemisphere visible, back hemisphere hidden
    th, ph = np.meshgrid(
        np.linspace(0, np.pi, 40), np.linspace(0, 2 * np.pi, 80, endpoint=False), indexing="ij"
    )
    s = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1).reshape(-1, 3)
    idx = np.arange(40 * 80).reshape(40, 80)
    a, b = idx[:-1], np.roll(idx, -1, 1)[:-1]
    c, d = idx[1:], np.roll(idx, -1, 1)[1:]
    stri = np.concatenate(
        [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)]
    )
    sv = (s * 30 + [40, 40, 0]).astype(np.float32)
    vis = vertex_visibility(sv, stri, 80, 80)
    assert vis[s[:, 2] > 0.2].all()
    assert not vis[s[:, 2] < -0.2].any()


def test_render_colors_linear_and_channels():
    v, tri = grid_mesh(25, offset=4.0, scale=1.5)
    cols = np.stack([v[:, 0] / 60, v[:, 1] / 60, np.ones(len(v))], 1).astype(np.float32)
    img, mask = render_colors(v, tri, cols, 50, 50, background=(0.1, 0.2, 0.3))
    assert img.shape == (50, 50, 3) and img.dtype == np.float32 and mask.dtype == bool
    yy, xx = np.mgrid[0:50, 0:50]
    np.testing.assert_allclose(img[..., 0][mask], (xx / 60)[mask], atol=1e-5)
    np.testing.assert_allclose(img[..., 1][mask], (yy / 60)[mask], atol=1e-5)
    np.testing.assert_allclose(img[~mask], np.broadcast_to([0.1, 0.2, 0.3], img[~mask].shape))
    # five channels and a 1-D attribute work too
    img5, _ = render_colors(v, tri, np.repeat(cols, 2, axis=1)[:, :5], 50, 50)
    assert img5.shape == (50, 50, 5)
    img1, _ = render_colors(v, tri, cols[:, 0], 50, 50)
    assert img1.shape == (50, 50, 1)
    with pytest.raises(InputShapeError, match=r"colors must have shape \(625, C\)"):
        render_colors(v, tri, cols[:10], 50, 50)


def test_render_colors_reuses_raster():
    v, tri = grid_mesh(10, offset=1.0)
    r = rasterize(v, tri, 12, 12)
    a, _ = render_colors(v, tri, v, 12, 12)
    b, _ = render_colors(v, tri, v, 12, 12, raster=r)
    assert np.array_equal(a, b)


def test_sample_bilinear_exact_on_linear_texture():
    yy, xx = np.mgrid[0:16, 0:20].astype(np.float32)
    tex = np.stack([xx, yy, 2 * xx - yy], -1)
    x = np.array([0.0, 3.25, 18.5, 19.0, 25.0, -3.0])
    y = np.array([0.0, 7.75, 14.5, 15.0, 2.0, 4.0])
    s = sample_bilinear(tex, x, y)
    xc, yc = np.clip(x, 0, 19), np.clip(y, 0, 15)
    np.testing.assert_allclose(s, np.stack([xc, yc, 2 * xc - yc], 1), atol=1e-5)
    assert sample_bilinear(tex[..., 0], x, y).shape == (6,)


def test_render_texture_linear_texture_exact():
    v, tri = grid_mesh(20, offset=5.0, scale=2.0)
    uv = np.stack([v[:, 0] * 0.5 + 1, v[:, 1] * 0.25 + 2], 1)  # texture pixel coords
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    tex = np.stack([xx, yy], -1)
    img, mask = render_texture(v, tri, uv, tex, 50, 50)
    ys, xs = np.mgrid[0:50, 0:50]
    np.testing.assert_allclose(img[..., 0][mask], (xs * 0.5 + 1)[mask], atol=1e-4)
    np.testing.assert_allclose(img[..., 1][mask], (ys * 0.25 + 2)[mask], atol=1e-4)
    assert (img[~mask] == 0).all()
    u8 = np.full((8, 8, 3), 200, np.uint8)
    img8, _ = render_texture(v, tri, uv / 8, u8, 50, 50)
    assert img8.dtype == np.float32 and np.allclose(img8[mask], 200)
    with pytest.raises(InputShapeError, match="uv must have shape"):
        render_texture(v, tri, uv[:5], tex, 50, 50)


def test_vertex_normals_and_shading():
    v, tri = grid_mesh(10, offset=2.0)
    v[:, 2] = 7.0
    n = vertex_normals(v, tri)
    assert n.shape == (100, 3) and n.dtype == np.float32
    np.testing.assert_allclose(np.abs(n[:, 2]), 1.0, atol=1e-6)
    shade, mask = render_shaded(v, tri, 15, 15, ambient=0.2)
    np.testing.assert_allclose(shade[mask], 1.0, atol=1e-5)  # facing the light
    assert (shade[~mask] == 0).all()
    side, _ = render_shaded(v, tri, 15, 15, light=(1, 0, 0), ambient=0.2)
    np.testing.assert_allclose(side[mask], 0.2, atol=1e-5)  # grazing light: ambient only
