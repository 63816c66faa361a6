"""OBJ and PLY round trips, viewer orientation."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.errors import InputShapeError, PRNetError
from prnet.io import read_image, read_obj, read_ply, write_obj, write_ply
from prnet.io._mesh import to_viewer
from prnet.render.synthetic import grid_mesh


@pytest.fixture
def mesh():
    v, tri = grid_mesh(12, offset=10.0, scale=3.0)  # image coords, y down
    rng = np.random.default_rng(0)
    colors = rng.uniform(0, 1, (len(v), 3)).astype(np.float32)
    return v, tri, colors


def signed_area_sum(v, tri):
    p0, p1, p2 = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
    return np.sum(
        (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1])
        - (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])
    )


def test_to_viewer_flip_and_winding(mesh):
    v, tri, _ = mesh
    for t in (tri, tri[:, [0, 2, 1]]):  # whatever the input winding
        out_v, out_t = to_viewer(v, t, flip_y=True, image_height=100)
        np.testing.assert_allclose(out_v[:, 1], 99 - v[:, 1])
        np.testing.assert_allclose(out_v[:, [0, 2]], v[:, [0, 2]])
        assert signed_area_sum(out_v, out_t) > 0  # normals towards +z (the viewer)
        assert set(map(frozenset, out_t.tolist())) == set(map(frozenset, t.tolist()))
    out_v, _ = to_viewer(v, tri, flip_y=True)
    np.testing.assert_allclose(out_v[:, 1], -v[:, 1])


@pytest.mark.parametrize("seed", range(6))
def test_signed_area_from_open_edges_equals_the_triangle_sum(seed):
    """The orientation test sums only the edges that do not cancel; on any triangle list
    (mixed windings, repeated and degenerate triangles, unused vertices) it equals the sum
    over the triangles, and NaN vertices still drop out of it."""
    from prnet.io._mesh import _signed_area_sum

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    v = rng.uniform(-500, 4000, (n, 3))
    tri = rng.integers(0, n, (int(rng.integers(1, 200)), 3))
    tri = np.concatenate([tri, tri[: 5, [0, 2, 1]], tri[:3]])  # cancelling and repeated uses
    np.testing.assert_allclose(_signed_area_sum(v, tri), signed_area_sum(v, tri), rtol=1e-9,
                               atol=1e-6)
    v[0, 1] = np.nan
    np.testing.assert_allclose(_signed_area_sum(v, tri), np.nansum(
        [signed_area_sum(v, t[None]) for t in tri]), rtol=1e-9, atol=1e-6)


def test_signed_area_of_a_grid_and_of_collinear_points(mesh):
    from prnet.io._mesh import _signed_area_sum

    v, tri, _ = mesh
    assert _signed_area_sum(v, tri) == pytest.approx(signed_area_sum(v, tri), rel=1e-12)
    assert _signed_area_sum(v, tri[:, [0, 2, 1]]) == pytest.approx(-signed_area_sum(v, tri))
    line = np.c_[np.arange(10.0) * 3.7 + 1e4, np.arange(10.0) * 1.3 - 2e3, np.zeros(10)]
    flat = np.array([[0, 1, 2], [3, 5, 4], [1, 7, 9], [8, 2, 6]])
    assert signed_area_sum(line, flat) != 0.0  # rounding: the per-triangle sum is not exact
    assert _signed_area_sum(line, flat) == 0.0  # a zero-area mesh is kept as given


def test_obj_vertex_colours_round_trip(tmp_path, mesh):
    v, tri, colors = mesh
    p = write_obj(tmp_path / "m.obj", v, tri, colors=colors, image_height=100)
    m = read_obj(p)
    assert m.vertices.shape == v.shape and m.triangles.shape == tri.shape
    np.testing.assert_allclose(m.vertices[:, 0], v[:, 0], atol=1e-5)
    np.testing.assert_allclose(m.vertices[:, 1], 99 - v[:, 1], atol=1e-5)
    np.testing.assert_allclose(m.colors, colors, atol=1e-6)
    assert m.uv is None and m.material_file is None
    assert signed_area_sum(m.vertices, m.triangles) > 0
    text = p.read_text()
    assert text.count("\nv ") == len(v) and text.count("\nf ") == len(tri)
    line = next(ln for ln in text.splitlines() if ln.startswith("v "))
    assert len(line.split()) == 7  # v x y z r g b
    # uint8 colours are scaled to [0, 1]
    m8 = read_obj(write_obj(tmp_path / "m8.obj", v, tri, colors=(colors * 255).astype(np.uint8)))
    np.testing.assert_allclose(m8.colors, np.floor(colors * 255) / 255, atol=1e-6)


def test_obj_no_flip_keeps_coordinates(tmp_path, mesh):
    v, tri, _ = mesh
    m = read_obj(write_obj(tmp_path / "m.obj", v, tri, flip_y=False))
    np.testing.assert_allclose(m.vertices, v, atol=1e-5)
    assert m.colors is None


def test_obj_texture_writes_mtl_and_png(tmp_path, mesh):
    v, tri, _ = mesh
    tex = np.random.default_rng(1).integers(0, 256, (32, 48, 3)).astype(np.uint8)
    uv = np.stack([v[:, 0] / 50 * 47, v[:, 1] / 50 * 31], 1)  # texture pixels
    p = write_obj(tmp_path / "out" / "face.obj", v, tri, uv=uv, texture=tex)
    assert sorted(f.name for f in p.parent.iterdir()) == [
        "face.mtl",
        "face.obj",
        "face_texture.png",
    ]
    text = p.read_text()
    assert "mtllib face.mtl\n" in text and "usemtl " in text
    mtl = (p.parent / "face.mtl").read_text()
    assert "map_Kd face_texture.png\n" in mtl
    m = read_obj(p)
    assert m.material_file == p.parent / "face.mtl"
    assert m.texture_file == p.parent / "face_texture.png"
    assert np.array_equal(read_image(m.texture_file), tex)
    np.testing.assert_allclose(m.uv[:, 0], (uv[:, 0] + 0.5) / 48, atol=1e-6)
    np.testing.assert_allclose(m.uv[:, 1], 1 - (uv[:, 1] + 0.5) / 32, atol=1e-6)
    assert np.array_equal(m.uv_triangles, m.triangles)
    assert set(map(frozenset, m.triangles.tolist())) == set(map(frozenset, tri.tolist()))


def test_obj_errors(tmp_path, mesh):
    v, tri, colors = mesh
    with pytest.raises(InputShapeError, match="a texture needs per-vertex uv"):
        write_obj(tmp_path / "a.obj", v, tri, texture=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputShapeError, match="uv needs a texture or texture_size"):
        write_obj(tmp_path / "a.obj", v, tri, uv=v[:, :2])
    with pytest.raises(InputShapeError, match=r"colors must have shape \(144, 3\)"):
        write_obj(tmp_path / "a.obj", v, tri, colors=colors[:5])
    assert not list(tmp_path.iterdir())
    (tmp_path / "quad.obj").write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n")
    with pytest.raises(PRNetError, match="only triangular faces"):
        read_obj(tmp_path / "quad.obj")


def test_read_obj_face_forms_and_negative_indices(tmp_path):
    (tmp_path / "x.obj").write_text(
        "# comment\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nvn 0 0 1\n"
        "f 1//1 2//1 3//1\nf -3/1/1 -2/2/1 -1/3/1\nf 3/3 2/2 1/1\n"
    )
    m = read_obj(tmp_path / "x.obj")
    assert m.triangles.tolist() == [[0, 1, 2], [0, 1, 2], [2, 1, 0]]
    assert m.uv.shape == (3, 2) and m.uv_triangles is None  # first face has no vt


@pytest.mark.parametrize("binary", [True, False])
def test_ply_round_trip(tmp_path, mesh, binary):
    v, tri, colors = mesh
    p = write_ply(tmp_path / "m.ply", v, tri, colors=colors, binary=binary, image_height=100)
    m = read_ply(p)
    assert m.vertices.shape == v.shape and m.triangles.shape == tri.shape
    np.testing.assert_allclose(m.vertices[:, 1], 99 - v[:, 1], atol=1e-4)
    np.testing.assert_allclose(m.vertices[:, [0, 2]], v[:, [0, 2]], atol=1e-4)
    assert np.array_equal(m.colors, np.rint(colors * 255).astype(np.uint8))
    assert signed_area_sum(m.vertices, m.triangles) > 0
    head = p.read_bytes()[:200]
    assert (b"binary_little_endian" in head) == binary
    m2 = read_ply(write_ply(tmp_path / "n.ply", v, tri, binary=binary, flip_y=False))
    assert m2.colors is None
    np.testing.assert_allclose(m2.vertices, v, atol=1e-4)


def test_ply_errors(tmp_path):
    (tmp_path / "bad.ply").write_text("not a ply")
    with pytest.raises(PRNetError, match="not a PLY file"):
        read_ply(tmp_path / "bad.ply")
    with pytest.raises(PRNetError, match="cannot read PLY"):
        read_ply(tmp_path / "missing.ply")
