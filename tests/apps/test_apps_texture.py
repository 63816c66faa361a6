"""UV textures: equal to FaceResult.uv_texture, mirror filling, OBJ alignment, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.apps.texture import texel_visibility, texture_coords, texture_uv, uv_texture
from prnet.cli import main
from prnet.errors import InputShapeError, PRNetError
from prnet.io import read_image, read_obj, write_image, write_obj
from prnet.render import sample_bilinear


@pytest.fixture(scope="module")
def face(prn, sample_image_path):
    faces = prn.reconstruct(read_image(sample_image_path))
    assert len(faces) == 1
    return faces[0]


def test_plain_texture_is_faceresult_texture(face):
    for size, masked in ((256, False), (128, True)):
        np.testing.assert_array_equal(
            uv_texture(face, size, mask_invisible=masked),
            face.uv_texture(size, mask_invisible=masked),
        )
    # sampling another image of the same size takes that image's colours
    black = np.zeros_like(face.image)
    assert not uv_texture(face, image=black).any()


def test_mirror_fill(face):
    vis = texel_visibility(face)
    hidden = face.layout.face_mask & ~vis
    assert hidden.sum() > 100
    xy, known, filled = texture_coords(face, "mirror")
    assert filled.any() and not (filled & vis).any() and (known >= vis).all()
    sym = face.layout.sym_texel
    np.testing.assert_array_equal(
        xy[filled], face.posmap[..., :2][sym[..., 1], sym[..., 0]][filled]
    )
    masked = uv_texture(face, mask_invisible=True)
    filled_tex = uv_texture(face, fill="mirror", mask_invisible=True)
    assert not masked[filled].any() and filled_tex[filled].any(axis=1).mean() > 0.95
    np.testing.assert_array_equal(filled_tex[vis], masked[vis])  # seen texels unchanged
    big = uv_texture(face, 512, fill="mirror", mask_invisible=True)
    assert big.shape == (512, 512, 3) and big.dtype == np.uint8
    assert (big.any(axis=2).mean() - filled_tex.any(axis=2).mean()) < 0.02


@pytest.mark.parametrize("size", [256, 512])
def test_texture_lines_up_with_textured_obj(face, tmp_path, size):
    """Texture + write_obj(uv=FaceResult.uv) → every vertex's vt points at its own colour."""
    tex = uv_texture(face, size)
    uv = face.uv if size == 256 else texture_uv(face.uv, size)
    write_obj(
        tmp_path / "f.obj",
        face.vertices,
        face.triangles,
        uv=uv,
        texture=tex,
        image_height=face.image.shape[0],
    )
    mesh = read_obj(tmp_path / "f.obj")
    assert mesh.texture_file is not None and mesh.texture_file.is_file()
    tex_back = read_image(mesh.texture_file)
    np.testing.assert_array_equal(tex_back, tex)
    # OBJ vt (s right, t up, normalised) → texel coordinates (column, row) of the PNG
    col = mesh.uv[:, 0] * size - 0.5
    row = (1.0 - mesh.uv[:, 1]) * size - 0.5
    got = sample_bilinear(tex_back, col, row)
    want = face.colors * 255
    vis = face.visibility
    err = np.abs(got[vis] - want[vis]).mean()
    assert err < 0.6  # measured ≈ 0.25 (256) and 0.2 (512) grey levels
    # a transposed or unflipped lookup would be far off
    assert np.abs(sample_bilinear(tex_back, row, col)[vis] - want[vis]).mean() > 10
    assert (
        np.abs(sample_bilinear(tex_back, col, mesh.uv[:, 1] * size - 0.5)[vis] - want[vis]).mean()
        > 10
    )


def test_bad_arguments(face):
    with pytest.raises(PRNetError, match="fill must be one of mirror, none, got 'blur'"):
        uv_texture(face, fill="blur")
    with pytest.raises(InputShapeError, match="texture size must be >= 8"):
        uv_texture(face, 4)
    with pytest.raises(InputShapeError, match="image must be uint8"):
        uv_texture(face, image=np.zeros((10, 10, 3), np.uint8))


def test_cli_texture(prn, sample_image_path, tmp_path, monkeypatch, capsys):
    import prnet.cli.apps as cli_apps

    monkeypatch.setattr(cli_apps, "load_prn", lambda args, **kw: prn)
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "astro.png"
    write_image(src, read_image(sample_image_path))
    write_image(tmp_path / "in" / "blank.png", np.full((64, 64, 3), 128, np.uint8))
    out = tmp_path / "tex"
    rc = main(
        [
            "texture",
            str(tmp_path / "in"),
            "-o",
            str(out),
            "--size",
            "128",
            "--fill",
            "mirror",
            "--mask-invisible",
        ]
    )
    assert rc == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["astro_0_texture.png"]
    tex = read_image(out / "astro_0_texture.png")
    assert tex.shape == (128, 128, 3) and tex.any()
    io = capsys.readouterr()
    assert "1 texture(s) from 2 image(s)" in io.out and "no face found in" in io.err
    assert main(["texture", str(tmp_path / "nothing*.jpg"), "-o", str(out)]) == 1
    assert "no input images" in capsys.readouterr().err

    # a corrupt image is reported on one line; the images after it still get their textures
    (tmp_path / "in" / "a_corrupt.png").write_bytes(b"not a png")
    out2 = tmp_path / "tex2"
    assert main(["texture", str(tmp_path / "in"), "-o", str(out2), "--size", "64"]) == 1
    assert sorted(p.name for p in out2.iterdir()) == ["astro_0_texture.png"]
    io = capsys.readouterr()
    assert "1 texture(s) from 3 image(s), 1 failed" in io.out
    assert "prnet: error: cannot read image" in io.err and "Traceback" not in io.err


def test_seen_texels_for_swaps(face):
    """Edge-on texels and texels at the silhouette do not count as seen; the mirror of a much
    better-facing texel replaces a poorly seen one."""
    from prnet.apps.texture import texel_facing, texel_inside

    vis = texel_visibility(face)
    facing = texel_facing(face)
    assert facing[vis].mean() > 0.5  # oriented towards the camera
    inside = texel_inside(face, 4)
    assert (inside <= face.layout.face_mask).all() and 0.3 < inside.sum() / vis.sum() < 0.98
    _, known0, _ = texture_coords(face, "none")
    _, known, _ = texture_coords(face, "none", min_facing=0.1, margin=4)
    assert (known <= known0).all() and known.sum() < known0.sum()
    assert (facing[known] >= 0.1).all() and inside[known].all()
    _, known_m, filled = texture_coords(face, "mirror", min_facing=0.1, margin=4)
    assert (known_m >= known).all() and filled.any()


def test_fill_holes():
    from prnet.apps.swap import fill_holes

    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    img = np.stack([xx, yy, xx + yy], axis=2) / 128
    known = np.ones((64, 64), bool)
    known[20:40, 10:30] = False
    out = fill_holes(np.where(known[..., None], img, 0).astype(np.float32), known)
    np.testing.assert_array_equal(out[known], img[known])
    assert np.abs(out[~known] - img[~known]).max() < 0.15  # a smooth ramp is continued
    assert not fill_holes(img, np.zeros_like(known)).any()
