"""The fast mesh writers write the same bytes as the formatting code they replaced.

The oracles below are the previous implementations (``%`` formatting of every number), copied
here unchanged so that the byte-identity of the files is tested against them.
"""

from __future__ import annotations

import numpy as np
import pytest

from prnet.errors import InputShapeError
from prnet.io import _mesh as mesh_module
from prnet.io import write_obj, write_ply
from prnet.io._mesh import check_mesh, colors_unit, format_f6_rows, format_fixed_rows

# --------------------------------------------------------------------------- oracles


def old_format_rows(row_format: str, values: np.ndarray) -> str:
    if values.shape[0] == 0:
        return ""
    return (row_format * values.shape[0]) % tuple(values.ravel().tolist())


def old_to_viewer(vertices, triangles, flip_y=True, image_height=None, orient=True):
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


def old_obj_text(vertices, triangles, colors=None, uv=None, texture_size=None, flip_y=True,
                 image_height=None, stem="mesh", textured=False) -> bytes:
    """The OBJ text of the previous ``write_obj`` (``textured``: with mtllib/usemtl lines)."""
    v, tri = check_mesh(vertices, triangles)
    n = v.shape[0]
    col = colors_unit(colors, n)
    vt = None
    if uv is not None:
        uv_a = np.asarray(uv, dtype=np.float64)
        ht, wt = texture_size
        vt = np.stack([(uv_a[:, 0] + 0.5) / wt, 1.0 - (uv_a[:, 1] + 0.5) / ht], axis=1)
    v, tri = old_to_viewer(v, tri, flip_y=flip_y, image_height=image_height)
    parts = [f"# prnet mesh: {n} vertices, {tri.shape[0]} triangles\n"]
    if textured:
        parts.append(f"mtllib {stem}.mtl\n")
    if col is not None:
        parts.append(old_format_rows("v %.6f %.6f %.6f %.6f %.6f %.6f\n", np.hstack([v, col])))
    else:
        parts.append(old_format_rows("v %.6f %.6f %.6f\n", v))
    if vt is not None:
        parts.append(old_format_rows("vt %.6f %.6f\n", vt))
    if textured:
        parts.append("usemtl prnet_texture\n")
    faces = np.asarray(tri, np.int64) + 1
    if vt is not None:
        parts.append(old_format_rows("f %d/%d %d/%d %d/%d\n", np.repeat(faces, 2, axis=1)))
    else:
        parts.append(old_format_rows("f %d %d %d\n", faces))
    return "".join(parts).encode("utf-8")


def old_ply_bytes(vertices, triangles, colors=None, binary=True, flip_y=True,
                  image_height=None) -> bytes:
    """The file of the previous ``write_ply``."""
    v, tri = check_mesh(vertices, triangles)
    col = colors_unit(colors, v.shape[0])
    v, tri = old_to_viewer(v, tri, flip_y=flip_y, image_height=image_height)
    col8 = None if col is None else np.rint(col * 255.0).astype(np.uint8)
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
              "comment written by prnet", f"element vertex {v.shape[0]}",
              "property float x", "property float y", "property float z"]
    if col8 is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [f"element face {tri.shape[0]}", "property list uchar int vertex_indices",
               "end_header"]
    head = ("\n".join(header) + "\n").encode("ascii")
    if binary:
        fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
        if col8 is not None:
            fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        vrec = np.empty(v.shape[0], dtype=fields)
        vrec["x"], vrec["y"], vrec["z"] = v[:, 0], v[:, 1], v[:, 2]
        if col8 is not None:
            vrec["red"], vrec["green"], vrec["blue"] = col8[:, 0], col8[:, 1], col8[:, 2]
        frec = np.empty(tri.shape[0], dtype=[("n", "u1"), ("i", "<i4", (3,))])
        frec["n"] = 3
        frec["i"] = tri
        return head + vrec.tobytes() + frec.tobytes()
    v32 = v.astype(np.float32).astype(np.float64)
    if col8 is not None:
        vtxt = old_format_rows("%.7g %.7g %.7g %d %d %d\n", np.hstack([v32, col8]))
    else:
        vtxt = old_format_rows("%.7g %.7g %.7g\n", v32)
    return head + (vtxt + old_format_rows("3 %d %d %d\n", tri)).encode("ascii")


# --------------------------------------------------------------------------- data


def special_values(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Numbers that stress "%.6f": signed zeros, ties and near-ties at the 6th decimal,
    values that round up to the next integer or digit count, 4-digit negatives, up to 1e9."""
    pool = np.array([
        0.0, -0.0, 5e-7, -5e-7, 4.9999999e-7, -4.9999999e-7, 1e-12, -1e-12, 0.5, -0.5,
        0.0078125, -0.0078125, 1.0000005, 2.5e-6, 999.9999995, -999.9999995, 9999.9999996,
        -9999.9999996, 1234.5678905, -1000.0, 1e4, -1e4, 99999999.9999999, 123456789.123457,
        -987654321.0000005, 999999999.999999, -999999999.999999, 0.1, 0.7, 1 / 3,
    ])
    return rng.choice(pool, shape)


def random_arrays(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (257, 6)
    scale = rng.normal(0, 1, shape) * 10.0 ** rng.integers(-9, 8, shape)
    ties = rng.integers(-2**24, 2**24, shape) / 128.0  # exact ties at the 7th decimal
    near = (rng.integers(-10**9, 10**9, shape) + 0.5) * 1e-6  # near-ties, inexact
    f32 = rng.normal(300, 400, shape).astype(np.float32).astype(np.float64)
    return [scale, -scale, ties, near, f32, special_values(rng, shape)]


# --------------------------------------------------------------------------- format_f6_rows


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("prefix", ["v ", "vt ", "", "long prefix "])
def test_format_f6_rows_matches_percent(seed, prefix, monkeypatch):
    def no_fallback(*args):
        raise AssertionError("the vectorised path was not taken")

    monkeypatch.setattr(mesh_module, "format_rows", no_fallback)
    for a in random_arrays(seed):
        for arr in (a, a[:, :1], a[:, :2], a[:, :3], a[:1]):
            fmt = prefix + " ".join(["%.6f"] * arr.shape[1]) + "\n"
            assert format_f6_rows(prefix, arr) == old_format_rows(fmt, arr).encode()


def test_format_f6_rows_negative_zero_and_rounding():
    got = format_f6_rows("", np.array([[-0.0, 0.0, -1e-9, 5e-7, -5e-7, 0.0078125]]))
    assert got == b"-0.000000 0.000000 -0.000000 0.000000 -0.000000 0.007812\n"


def test_format_f6_rows_fallback_for_huge_and_non_finite():
    a = np.array([[1e9, -3e15, 1.5], [np.nan, np.inf, -np.inf], [1e300, -1e-300, 0.0]])
    assert format_f6_rows("v ", a) == old_format_rows("v %.6f %.6f %.6f\n", a).encode()
    assert format_f6_rows("v ", np.zeros((0, 3))) == b""


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("decimals", [1, 2, 3, 4, 5, (2, 2, 2, 3, 3, 3), (4, 1, 6, 5, 2, 3)])
def test_format_fixed_rows_matches_percent(seed, decimals, monkeypatch):
    def no_fallback(*args):
        raise AssertionError("the vectorised path was not taken")

    monkeypatch.setattr(mesh_module, "format_rows", no_fallback)
    rng = np.random.default_rng(seed)
    dec = np.broadcast_to(decimals, 6)
    unit = 10.0 ** -dec
    ties = (rng.integers(-10**6, 10**6, (200, 6)) + 0.5) * unit  # decimal ties, inexact
    exact = rng.integers(-2**20, 2**20, (200, 6)) / 8.0 * unit * 10  # binary-exact ties
    for a in [*random_arrays(seed), ties, exact]:
        fmt = "v " + " ".join(f"%.{d}f" for d in dec) + "\n"
        assert format_fixed_rows("v ", a, decimals) == old_format_rows(fmt, a).encode()


def test_format_fixed_rows_in_blocks(monkeypatch):
    """Arrays longer than a block are formatted block by block: the same bytes as ``%``, also
    when only one block needs the fallback (a NaN row) or blocks need different widths."""
    monkeypatch.setattr(mesh_module, "_BLOCK_ROWS", 64)
    rng = np.random.default_rng(5)
    a = rng.uniform(-50, 50, (300, 4))
    a[200:260] *= 1e5  # wider numbers in some blocks only
    fmt = "v " + " ".join(["%.2f"] * 4) + "\n"
    assert format_fixed_rows("v ", a, 2) == old_format_rows(fmt, a).encode()
    a[70, 1] = np.nan
    assert format_fixed_rows("v ", a, 2) == old_format_rows(fmt, a).encode()
    assert format_fixed_rows("v ", a[:64], 2) == old_format_rows(fmt, a[:64]).encode()


def test_format_fixed_rows_rounding_and_bad_decimals():
    a = np.array([[0.125, -0.125, 2.675, -0.0, 0.005, 1e-9]])
    assert format_fixed_rows("", a, 2) == b"0.12 -0.12 2.67 -0.00 0.01 0.00\n"
    with pytest.raises(InputShapeError, match="decimals"):
        format_fixed_rows("", a, 7)
    with pytest.raises(InputShapeError, match="decimals"):
        format_fixed_rows("", a, (2, 3))


# --------------------------------------------------------------------------- files


def face_like_mesh(seed: int, n: int = 400):
    """A random mesh in image pixels (float32 like the pipeline's), with colours and uv."""
    rng = np.random.default_rng(seed)
    v = np.column_stack([rng.uniform(0, 2000, n), rng.uniform(0, 1500, n),
                         rng.normal(0, 300, n)]).astype(np.float32)
    v[rng.integers(0, n, 10), 2] = -0.0
    tri = rng.integers(0, n, (700, 3)).astype(np.int32)
    colors = rng.uniform(-0.1, 1.1, (n, 3)).astype(np.float32)
    uv = rng.uniform(0, 255, (n, 2))
    return v, tri, colors, uv


@pytest.mark.parametrize("seed", range(4))
def test_write_obj_identical_to_old_writer(tmp_path, seed):
    v, tri, colors, uv = face_like_mesh(seed)
    cases = [
        {"colors": colors, "image_height": 1500},
        {"colors": (colors.clip(0, 1) * 255).astype(np.uint8), "image_height": 1500},
        {"image_height": None},
        {"colors": colors, "flip_y": False},
        {"uv": uv, "texture_size": (256, 256), "image_height": 1500},
    ]
    for i, kw in enumerate(cases):
        path = write_obj(tmp_path / f"m{i}.obj", v, tri, **kw)
        assert path.read_bytes() == old_obj_text(v, tri, **kw), kw


def test_write_obj_textured_identical(tmp_path):
    v, tri, _colors, uv = face_like_mesh(7)
    tex = np.zeros((64, 32, 3), np.uint8)
    path = write_obj(tmp_path / "tex.obj", v, tri, uv=uv, texture=tex, image_height=1500)
    want = old_obj_text(v, tri, uv=uv, texture_size=(64, 32), image_height=1500, stem="tex",
                        textured=True)
    assert path.read_bytes() == want


@pytest.mark.parametrize("binary", [True, False])
def test_write_ply_identical_to_old_writer(tmp_path, binary):
    v, tri, colors, _ = face_like_mesh(3)
    for i, kw in enumerate([{"colors": colors, "image_height": 1500}, {"flip_y": False}]):
        path = write_ply(tmp_path / f"m{i}.ply", v, tri, binary=binary, **kw)
        assert path.read_bytes() == old_ply_bytes(v, tri, binary=binary, **kw)


def test_face_line_cache_never_stale(tmp_path):
    """Another triangle list -- also the same array changed in place -- gets its own lines."""
    v, tri, colors, _ = face_like_mesh(11)
    a = write_obj(tmp_path / "a.obj", v, tri, colors=colors).read_bytes()
    assert a == old_obj_text(v, tri, colors=colors)
    tri[:5] = tri[:5, ::-1].copy()
    tri[10] = [0, 1, 2]
    b = write_obj(tmp_path / "b.obj", v, tri, colors=colors).read_bytes()
    assert b == old_obj_text(v, tri, colors=colors) and b != a
    other = np.ascontiguousarray(tri[::-1])
    c = write_obj(tmp_path / "c.obj", v, other, colors=colors).read_bytes()
    assert c == old_obj_text(v, other, colors=colors)
    assert write_obj(tmp_path / "d.obj", v, tri, colors=colors).read_bytes() == b


# --------------------------------------------------------------------------- texture PNG


def test_png_bytes_identical_to_write_image(tmp_path):
    from prnet.io import write_image
    from prnet.io._mesh import TEXTURE_PNG_LEVEL, clear_caches, png_bytes

    rng = np.random.default_rng(5)
    for i, shape in enumerate([(1, 1, 3), (17, 5, 3), (64, 64, 3)]):
        tex = rng.integers(0, 256, shape, dtype=np.uint8)
        for arr in (tex, tex[:, ::-1], np.asfortranarray(tex)):
            clear_caches()
            want = write_image(tmp_path / f"t{i}.png", arr, png_level=TEXTURE_PNG_LEVEL).read_bytes()
            assert png_bytes(arr) == want
            assert png_bytes(arr) == want  # cached
            # another level is another encoding, never served from the cache
            assert png_bytes(arr, 6) == write_image(tmp_path / f"d{i}.png", arr).read_bytes()


def test_png_cache_never_stale(tmp_path):
    from prnet.io import write_image
    from prnet.io._mesh import png_bytes

    rng = np.random.default_rng(6)
    tex = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    first = png_bytes(tex)
    tex[3, 4] ^= 1  # the same array, changed in place
    assert png_bytes(tex) != first
    assert png_bytes(tex, 6) == write_image(tmp_path / "t.png", tex).read_bytes()
    other = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert png_bytes(other, 6) == write_image(tmp_path / "o.png", other).read_bytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_textured_obj_png_identical_to_write_image(tmp_path, dtype):
    from prnet.io import write_image

    v, tri, _, uv = face_like_mesh(8)
    rng = np.random.default_rng(8)
    tex = rng.integers(0, 256, (32, 16, 3)).astype(dtype)
    if dtype is np.float32:
        tex /= 255.0
    from prnet.io._mesh import TEXTURE_PNG_LEVEL

    write_obj(tmp_path / "m.obj", v, tri, uv=uv, texture=tex)
    want = write_image(tmp_path / "want.png", tex, png_level=TEXTURE_PNG_LEVEL).read_bytes()
    assert (tmp_path / "m_texture.png").read_bytes() == want


def test_caches_under_threads(tmp_path):
    """Writers in several threads, alternating two triangle lists and textures."""
    from concurrent.futures import ThreadPoolExecutor

    from prnet.io import write_image

    v, tri, _, uv = face_like_mesh(12)
    tris = [tri, np.ascontiguousarray(tri[:, ::-1])]
    texs = [np.full((8, 8, 3), k, np.uint8) for k in (10, 200)]
    from prnet.io._mesh import TEXTURE_PNG_LEVEL

    pngs = [write_image(tmp_path / f"want{k}.png", t, png_level=TEXTURE_PNG_LEVEL).read_bytes()
            for k, t in enumerate(texs)]

    def job(i: int) -> bool:
        t, tex = tris[i % 2], texs[i % 2]
        path = write_obj(tmp_path / f"j{i}.obj", v, t, uv=uv, texture=tex)
        want = old_obj_text(v, t, uv=uv, texture_size=(8, 8), stem=f"j{i}", textured=True)
        png = (tmp_path / f"j{i}_texture.png").read_bytes()
        return path.read_bytes() == want and png == pngs[i % 2]

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(job, range(16)))
