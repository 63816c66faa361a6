"""Face swap / texture editing on real photos (the bundled astronaut and a transformed copy)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from prnet.apps.swap import (
    eyes_uv_mask,
    match_colors,
    poisson_blend,
    swap_all_faces,
    swap_faces,
    swap_faces_result,
    uv_mask_for,
)
from prnet.cli import main
from prnet.errors import InputShapeError, PRNetError
from prnet.io import read_image, write_image


@pytest.fixture(scope="module")
def astro(prn, sample_image_path):
    img = read_image(sample_image_path)
    faces = prn.reconstruct(img)
    assert len(faces) == 1
    return img, faces[0]


@pytest.fixture(scope="module")
def other(prn, sample_image_path):
    """A different-looking reference: mirrored, channels rotated (blue skin), scaled 0.8."""
    img = read_image(sample_image_path)[:, ::-1, [2, 0, 1]]
    img = cv2.resize(np.ascontiguousarray(img), None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    faces = prn.reconstruct(img)
    assert len(faces) == 1
    return img, faces[0]


def _face_region(face, grow: int) -> np.ndarray:
    m = face.raster.mask.astype(np.uint8)
    return cv2.dilate(m, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0


def test_face_swap_changes_only_the_face(astro, other):
    img, face = astro
    ref, ref_face = other
    res = swap_faces_result(img, face, ref, ref_face, mode="face")
    out = res.image
    assert out.shape == img.shape and out.dtype == np.uint8
    assert set(res.timings) >= {"visibility", "texture", "color", "render", "blend", "total"}
    changed = (out != img).any(axis=2)
    region = _face_region(face, grow=2)
    assert not changed[~region].any()  # outside the (dilated) face: bit-identical
    np.testing.assert_array_equal(out[~res.mask], img[~res.mask])
    assert res.mask.sum() > 0.5 * face.raster.mask.sum()  # most of the face replaced
    assert changed.sum() > 0.3 * face.raster.mask.sum()
    assert (img == read_image(astro[0])).all()  # input untouched


def test_eyes_mode_changes_less_than_face_mode(astro, other):
    img, face = astro
    ref, ref_face = other
    eyes = swap_faces_result(img, face, ref, ref_face, mode="eyes")
    whole = swap_faces_result(img, face, ref, ref_face, mode="face")
    n_eyes, n_face = eyes.mask.sum(), whole.mask.sum()
    assert 0 < n_eyes < 0.2 * n_face
    assert not (eyes.mask & ~whole.mask).any()
    # the eye region sits around the eye landmarks of the source face
    eye_pts = face.landmarks[36:48, :2]
    ys, xs = np.nonzero(eyes.mask)
    assert eye_pts[:, 0].min() - 15 < xs.min() and xs.max() < eye_pts[:, 0].max() + 15
    assert eye_pts[:, 1].min() - 15 < ys.min() and ys.max() < eye_pts[:, 1].max() + 15
    changed = (eyes.image != img).any(axis=2)
    assert not (changed & ~eyes.mask).any()


def test_color_transfer_keeps_source_colours(astro, other):
    img, face = astro
    ref, ref_face = other  # its skin is blue-ish
    on = swap_faces_result(img, face, ref, ref_face, color_transfer=True, blend="none")
    off = swap_faces_result(img, face, ref, ref_face, color_transfer=False, blend="none")
    m = on.mask & off.mask
    target = img[m].astype(float).mean(0)
    d_on = np.abs(on.image[m].astype(float).mean(0) - target).sum()
    d_off = np.abs(off.image[m].astype(float).mean(0) - target).sum()
    assert d_on < 0.3 * d_off


def test_mirror_fill_adds_hidden_texels(astro, other):
    img, face = astro
    ref, ref_face = other
    assert not ref_face.visibility.all()  # some self-occlusion to fill
    filled = swap_faces_result(img, face, ref, ref_face, fill="mirror", blend="none")
    plain = swap_faces_result(img, face, ref, ref_face, fill="none", blend="none")
    # the same region is blended; more of it comes from the reference with the mirror fill
    np.testing.assert_array_equal(filled.mask, plain.mask)
    assert 0.5 < plain.coverage < filled.coverage <= 1.0
    assert (filled.image != plain.image).any(axis=2).sum() > 50


def test_uv_masks(astro, tmp_path):
    layout = astro[1].layout
    eyes = eyes_uv_mask(layout)
    assert eyes.shape == (256, 256) and 200 < eyes.sum() < 0.1 * layout.face_mask.sum()
    assert (uv_mask_for("face", layout) == layout.face_mask).all()
    # a user mask PNG (any size, white = swap): left half of the UV map
    m = np.zeros((128, 128, 3), np.uint8)
    m[:, :64] = 255
    write_image(tmp_path / "left.png", m)
    left = uv_mask_for(tmp_path / "left.png", layout)
    assert left[:, :128].sum() > 0 and not left[:, 128:].any()
    assert (uv_mask_for(np.ones((256, 256)), layout) == layout.face_mask).all()
    with pytest.raises(PRNetError, match="mode must be 'face', 'eyes' or a UV mask image"):
        uv_mask_for("nose", layout)
    with pytest.raises(InputShapeError, match=r"shape \(256, 256\)"):
        uv_mask_for(np.ones((10, 10)), layout)


def test_user_mask_swap_and_errors(astro, other, tmp_path):
    img, face = astro
    ref, ref_face = other
    m = np.zeros((256, 256), bool)
    m[140:200, 80:176] = True  # around the mouth
    res = swap_faces_result(img, face, ref, ref_face, mode=m)
    assert 0 < res.mask.sum() < swap_faces_result(img, face, ref, ref_face).mask.sum()
    with pytest.raises(PRNetError, match="fill must be one of mirror, none"):
        swap_faces(img, face, ref, ref_face, fill="blur")
    with pytest.raises(InputShapeError, match="source_img has shape"):
        swap_faces(img[:100], face, ref, ref_face)
    with pytest.raises(PRNetError, match="face index 3 out of range: the source has 1 face"):
        swap_all_faces(img, [face], ref, ref_face, indices=[3])


def test_swap_two_faces_in_one_image(prn, astro, other):
    """Every face of a two-face image is swapped; each change stays on its face."""
    img, _ = astro
    crop = img[40:300, 100:360]
    pair = np.ascontiguousarray(np.hstack([crop, crop[:, ::-1]]))
    faces = prn.reconstruct(pair)
    assert len(faces) == 2 and faces[0].box[0] < faces[1].box[0]
    ref, ref_face = other
    res = swap_all_faces(pair, faces, ref, ref_face)
    regions = [_face_region(f, 2) for f in faces]
    changed = (res.image != pair).any(axis=2)
    assert not (changed & ~(regions[0] | regions[1])).any()
    assert (changed & regions[0]).sum() > 500 and (changed & regions[1]).sum() > 500
    one = swap_all_faces(pair, faces, ref, ref_face, indices=[1])
    assert not ((one.image != pair).any(axis=2) & ~regions[1]).any()


def test_match_colors_and_poisson_blend():
    rng = np.random.default_rng(0)
    tex = rng.uniform(0.2, 0.4, (32, 32, 3)).astype(np.float32)
    target = rng.uniform(0.5, 0.9, (32, 32, 3)).astype(np.float32)
    mask = np.ones((32, 32), bool)
    out = match_colors(tex, target, mask)
    lab_o = cv2.cvtColor(out, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    lab_t = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    np.testing.assert_allclose(lab_o.mean(0), lab_t.mean(0), atol=1.5)
    assert match_colors(tex, target, np.zeros_like(mask)) is tex  # too few texels: unchanged

    img = np.full((60, 80, 3), 100, np.uint8)
    patch = np.full_like(img, 200)
    m = np.zeros((60, 80), bool)
    m[0:20, 0:30] = True  # touches the border
    out = poisson_blend(img, patch, m)
    np.testing.assert_array_equal(out[~m], img[~m])
    np.testing.assert_array_equal(poisson_blend(img, patch, np.zeros_like(m)), img)


def test_cli_swap(prn, astro, other, tmp_path, monkeypatch, capsys):
    import prnet.cli.apps as cli_apps

    monkeypatch.setattr(cli_apps, "load_prn", lambda args, **kw: prn)
    src = tmp_path / "src.png"
    ref = tmp_path / "ref.png"
    write_image(src, astro[0])
    write_image(ref, other[0])
    out = tmp_path / "out" / "swap.png"
    assert (
        main(["swap", str(src), str(ref), "-o", str(out), "--mode", "eyes", "--no-color-transfer"])
        == 0
    )
    res = read_image(out)
    assert res.shape == astro[0].shape
    assert 0 < (res != astro[0]).any(axis=2).sum() < 3000
    assert "swapped 1 face(s)" in capsys.readouterr().out
    assert main(["swap", str(src), str(ref), "-o", str(out), "--face-index", "x"]) == 1
    assert "--face-index must be an integer or 'all', got 'x'" in capsys.readouterr().err
    assert main(["swap", str(src), str(ref), "-o", str(out), "--mode", "nose"]) == 1
    assert "mode must be 'face', 'eyes' or a UV mask image" in capsys.readouterr().err


@pytest.mark.shared
def test_swap_sample_photos(prn, shared_dir, astro):
    """A real pair of different people (manual-check material; nothing is written)."""
    ref = read_image(shared_dir / "data" / "samples" / "0.jpg")
    ref_faces = prn.reconstruct(ref)
    assert ref_faces
    img, face = astro
    res = swap_faces_result(img, face, ref, ref_faces[0])
    changed = (res.image != img).any(axis=2)
    assert not (changed & ~_face_region(face, 2)).any()
    assert changed.sum() > 0.3 * face.raster.mask.sum()
