"""prnet.export (the compatibility module over prnet.outputs): every exporter writes files that
parse back with the prnet.io readers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from prnet.errors import PRNetError
from prnet.export import (
    DEFAULT_OUTPUTS,
    OUTPUTS,
    ExportOptions,
    export_face,
    export_image,
    export_image_summary,
    face_arrays,
)
from prnet.io import (
    read_image,
    read_landmarks_json,
    read_landmarks_txt,
    read_npz,
    read_obj,
    read_ply,
    read_pose_json,
    read_pose_txt,
)
from prnet.outputs.arrays import COLOR_GRID, FRONTAL_GRID, PIXEL_GRID
from prnet.outputs.encode import (
    OBJ_COLOR_DECIMALS,
    OBJ_FRONTAL_DECIMALS,
    OBJ_PIXEL_DECIMALS,
    OBJ_UV_DECIMALS,
)


@pytest.fixture(scope="module")
def face(prn, sample_image_path):
    faces = prn.reconstruct(sample_image_path)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="module")
def exported(face, tmp_path_factory):
    """Everything written once (ExportOptions.every) with a 128-px texture."""
    out = tmp_path_factory.mktemp("export")
    paths = export_face(face, out, "img", ExportOptions.every(texture_size=128))
    return out, paths


@pytest.fixture(scope="module")
def exported_full(face, tmp_path_factory):
    """The image outputs written with ``full_frame`` (the whole image per face)."""
    out = tmp_path_factory.mktemp("export_full")
    paths = export_face(face, out, "img", ExportOptions.from_names(["depth", "viz"],
                                                                   full_frame=True))
    return out, paths


def test_options_defaults_and_names():
    o = ExportOptions()
    assert o.names == [n for n in OUTPUTS if n in DEFAULT_OUTPUTS]
    assert ExportOptions.every().names == list(OUTPUTS)
    assert ExportOptions.all().names == ["obj", "kpt", "pose", "depth", "npz", "viz", "glb"]
    assert ExportOptions.from_names(["ply", "kpt"]).names == ["kpt", "ply"]
    with pytest.raises(PRNetError, match="unknown outputs.*'stl'"):
        ExportOptions.from_names(["stl"])
    with pytest.raises(PRNetError, match="texture_size"):
        ExportOptions(texture_size=8)
    with pytest.raises(PRNetError, match="texture_size"):
        ExportOptions(texture_size=256.0)


def test_all_files_written_and_named(exported):
    out, paths = exported
    names = sorted(p.name for p in paths)
    expected = sorted(
        ["img_0.obj", "img_0_tex.obj", "img_0_tex.mtl", "img_0_tex_texture.png",
         "img_0_frontal.obj", "img_0_frontal.ply", "img_0_frontal_tex.obj",
         "img_0_frontal_tex.mtl", "img_0_frontal_tex_texture.png", "img_0_kpt.txt",
         "img_0_kpt.json", "img_0_pose.txt", "img_0_pose.json", "img_0_depth.png",
         "img_0_depth.npy", "img_0.mat", "img_0.ply", "img_0.npz", "img_0.glb"]
        + [f"img_0_viz_{k}.png" for k in ("landmarks", "dense", "pose", "depth", "mesh")])
    assert names == expected
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert sorted(q.name for q in out.iterdir()) == expected  # no temporary files left


def assert_rounded(actual, desired, decimals: int) -> None:
    """``actual`` is ``desired`` written with ``decimals`` and read back: within half a unit
    of the last decimal (float64: NumPy would compare a float32 ``desired`` in float32)."""
    err = np.abs(np.asarray(actual, np.float64) - np.asarray(desired, np.float64))
    assert err.max() <= 0.5 * 10.0**-decimals * (1 + 1e-9)


def test_obj_with_colours(face, exported):
    out, _ = exported
    m = read_obj(out / "img_0.obj")
    h = face.image_shape[0]
    assert m.vertices.shape == face.vertices.shape
    v = np.asarray(face.vertices, np.float64)
    assert_rounded(m.vertices[:, 0], v[:, 0], OBJ_PIXEL_DECIMALS)
    assert_rounded(m.vertices[:, 1], h - 1 - v[:, 1], OBJ_PIXEL_DECIMALS)  # y up
    assert_rounded(m.vertices[:, 2], v[:, 2], OBJ_PIXEL_DECIMALS)
    assert_rounded(m.colors, face.colors, OBJ_COLOR_DECIMALS)
    assert m.triangles.shape == face.triangles.shape
    assert set(map(frozenset, m.triangles[:50].tolist())) == set(
        map(frozenset, face.triangles[:50].tolist()))


def test_textured_obj(face, exported):
    out, _ = exported
    m = read_obj(out / "img_0_tex.obj")
    assert m.texture_file is not None and m.texture_file.name == "img_0_tex_texture.png"
    tex = read_image(m.texture_file)
    assert tex.shape == (128, 128, 3)
    assert m.uv.shape == (face.layout.n_vertices, 2)
    assert (m.uv >= 0).all() and (m.uv <= 1).all()
    np.testing.assert_array_equal(m.uv_triangles, m.triangles)
    # a texel's (s, t) points back at the texel of its vertex: s = (u + .5) / 256
    uv = np.asarray(face.uv, np.float64)
    assert_rounded(m.uv[:, 0], (uv[:, 0] + 0.5) / 256, OBJ_UV_DECIMALS)
    assert_rounded(m.uv[:, 1], 1 - (uv[:, 1] + 0.5) / 256, OBJ_UV_DECIMALS)
    assert_rounded(m.vertices[:, 0], face.vertices[:, 0], OBJ_PIXEL_DECIMALS)


def test_frontal_meshes(face, exported):
    out, _ = exported
    m = read_obj(out / "img_0_frontal.obj")
    assert_rounded(m.vertices, face.frontal_vertices, OBJ_FRONTAL_DECIMALS)  # y-up already
    p = read_ply(out / "img_0_frontal.ply")
    np.testing.assert_allclose(p.vertices, face.frontal_vertices, atol=1e-4)
    assert read_obj(out / "img_0_frontal_tex.obj").texture_file.is_file()


def test_landmarks_txt_json(face, exported):
    out, _ = exported
    np.testing.assert_allclose(read_landmarks_txt(out / "img_0_kpt.txt"), face.landmarks,
                               atol=1e-5)
    np.testing.assert_allclose(read_landmarks_json(out / "img_0_kpt.json"), face.landmarks,
                               atol=1e-5)
    obj = json.loads((out / "img_0_kpt.json").read_text())
    assert obj["count"] == 68 and obj["visible"] == face.landmark_visibility.tolist()


def test_pose_txt_json(face, exported):
    out, _ = exported
    p = face.pose
    for reader, name in ((read_pose_txt, "img_0_pose.txt"), (read_pose_json, "img_0_pose.json")):
        angles, cam = reader(out / name)
        np.testing.assert_allclose(angles, [p.yaw, p.pitch, p.roll], atol=1e-5)
        np.testing.assert_allclose(cam, p.camera_matrix, rtol=1e-6, atol=1e-6)


def test_depth_png_and_npy(face, exported_full):
    out, _ = exported_full
    raw = np.load(out / "img_0_depth.npy")
    assert raw.shape == face.image_shape and raw.dtype == np.float32
    np.testing.assert_allclose(raw, face.depth(normalize=False))
    cover = raw != 0
    assert cover.any() and raw[cover].max() <= face.vertices[:, 2].max() + 1e-3
    png = read_image(out / "img_0_depth.png")
    assert png.shape == (*face.image_shape, 3)
    np.testing.assert_array_equal(png[..., 0] > 0, cover)
    # nearer is brighter: the brightest pixel is where the depth is largest
    assert raw[np.unravel_index(np.argmax(png[..., 0]), raw.shape)] >= np.percentile(raw[cover], 99)


def test_mesh_ply(face, exported):
    out, _ = exported
    p = read_ply(out / "img_0.ply")
    h = face.image_shape[0]
    np.testing.assert_allclose(p.vertices[:, 1], h - 1 - face.vertices[:, 1], atol=1e-3)
    np.testing.assert_allclose(p.colors, np.rint(face.colors * 255), atol=1)
    assert p.triangles.shape == face.triangles.shape


def test_npz_and_mat(face, exported):
    out, _ = exported
    ref = face_arrays(face)
    z = read_npz(out / "img_0.npz")
    assert set(z) == set(ref)
    for k, v in ref.items():
        np.testing.assert_array_equal(z[k], v, err_msg=k)
    m = scipy.io.loadmat(out / "img_0.mat")
    for k in ("vertices", "colors", "triangles", "landmarks", "camera_matrix", "posmap"):
        np.testing.assert_allclose(m[k], ref[k], err_msg=k)
    np.testing.assert_allclose(m["pose"].ravel(), ref["pose"])
    assert m["landmark_visibility"].ravel().astype(bool).tolist() == ref[
        "landmark_visibility"].tolist()


def test_npz_and_mat_rounded_to_documented_grids(face, exported):
    out, _ = exported
    z = read_npz(out / "img_0.npz")
    m = scipy.io.loadmat(out / "img_0.mat")
    for key, exact, grid in [("vertices", face.vertices, PIXEL_GRID),
                             ("posmap", face.posmap, PIXEL_GRID),
                             ("frontal_vertices", face.frontal_vertices, FRONTAL_GRID),
                             ("colors", face.colors, COLOR_GRID)]:
        for stored in (z[key], m[key]):
            assert stored.dtype == np.float32 and stored.shape == np.shape(exact), key
            err = np.abs(stored.astype(np.float64) - np.asarray(exact, np.float64))
            assert err.max() <= grid / 2, key
            np.testing.assert_array_equal(stored / grid, np.round(stored / grid), err_msg=key)
    np.testing.assert_array_equal(z["landmarks"], np.asarray(face.landmarks, np.float32))
    np.testing.assert_array_equal(z["triangles"], face.triangles)


def test_viz_pngs(face, exported_full):
    out, _ = exported_full
    for kind in ("landmarks", "dense", "pose", "mesh"):
        img = read_image(out / f"img_0_viz_{kind}.png")
        assert img.shape == face.image.shape
        changed = (img != face.image).any(axis=2)
        assert 50 < changed.sum() < 0.5 * changed.size, kind  # drawn on, not replaced
        ys, xs = np.nonzero(changed)
        cx, cy = face.landmarks[:, :2].mean(0)
        assert abs(np.median(xs) - cx) < 40 and abs(np.median(ys) - cy) < 60, kind  # on the face
    depth = read_image(out / "img_0_viz_depth.png")
    np.testing.assert_array_equal(depth, read_image(out / "img_0_depth.png"))


def test_mask_invisible_texture(face, tmp_path):
    plain = export_face(face, tmp_path / "a", "x", ExportOptions.from_names(["texture"]))
    masked = export_face(face, tmp_path / "b", "x",
                         ExportOptions.from_names(["texture"], mask_invisible=True))
    t_plain = read_image(plain[2])
    t_mask = read_image(masked[2])
    assert t_plain.shape == (256, 256, 3)
    n_plain, n_mask = (t_plain > 0).any(2).sum(), (t_mask > 0).any(2).sum()
    assert n_mask < n_plain


def test_default_options_and_bad_stem(face, tmp_path):
    paths = export_face(face, tmp_path, "photo")
    assert sorted(p.name for p in paths) == sorted(
        ["photo_0.obj", "photo_0_kpt.txt", "photo_0_kpt.json", "photo_0_pose.txt",
         "photo_0_pose.json"])
    with pytest.raises(PRNetError, match="stem"):
        export_face(face, tmp_path, "a/b")
    with pytest.raises(PRNetError, match="stem"):
        export_face(face, tmp_path, "")


def test_export_image_and_summary(face, tmp_path):
    paths = export_image([face], tmp_path / "out", "photo", ExportOptions.from_names(["kpt"]),
                         source="in/photo.jpg")
    assert paths[-1].name == "photo.json"
    s = json.loads(paths[-1].read_text())
    assert s["image"] == "in/photo.jpg"
    assert (s["height"], s["width"]) == face.image_shape
    assert len(s["faces"]) == 1
    f = s["faces"][0]
    assert f["files"] == ["photo_0_kpt.txt", "photo_0_kpt.json"] == s["files"]
    assert all((tmp_path / "out" / n).is_file() for n in s["files"])
    np.testing.assert_allclose(f["landmarks"], face.landmarks, atol=0.01)
    assert f["landmark_visibility"] == face.landmark_visibility.tolist()
    assert f["pose"]["units"] == "degrees" and abs(f["pose"]["yaw"] - face.pose.yaw) < 1e-3
    assert 0 < f["visible_fraction"] <= 1


def test_summary_without_faces(tmp_path):
    p = export_image_summary([], tmp_path, "empty", source="e.png", image_shape=(20, 30))
    s = json.loads(p.read_text())
    assert s["faces"] == [] and s["files"] == []
    assert (s["height"], s["width"]) == (20, 30)
    with pytest.raises(PRNetError, match="one list per face"):
        export_image_summary([], tmp_path, "x", files=[[]])


def test_export_module_re_exports_outputs():
    import prnet.export
    import prnet.outputs

    for name in prnet.export.__all__:
        assert getattr(prnet.export, name) is getattr(prnet.outputs, name) or (
            getattr(prnet.export, name) == getattr(prnet.outputs, name)), name
