"""PRN options: flip and shift test-time augmentation, precision checks."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.geometry.crop import crop_matrix, shift_crop, square_from_box, warp_crop
from prnet.io import read_image


@pytest.fixture(scope="module")
def crop(prn, sample_image_path):
    img = read_image(sample_image_path)
    box = prn.detector.detect(img)[0].box
    return warp_crop(img, crop_matrix(*square_from_box(box)))


def _mirror_gap(prn, crop) -> float:
    a = prn.predict_crops(crop[None])[0]
    b = prn.predict_crops(np.ascontiguousarray(crop[None, :, ::-1]))[0]
    back = prn.layout.mirror_posmap(b, 256)
    m = prn.layout.face_mask
    return float(np.median(np.abs(back - a)[m][:, :2]))


def test_tta_is_mirror_equivariant(prn, crop):
    from prnet import PRN

    tta = PRN(device="cpu", backend="torch", tta=True)
    plain_gap, tta_gap = _mirror_gap(prn, crop), _mirror_gap(tta, crop)
    assert tta_gap < 0.5 and tta_gap < plain_gap
    # and it stays close to the plain prediction
    d = np.abs(tta.predict_crops(crop[None]) - prn.predict_crops(crop[None]))[0][prn.layout.face_mask]
    assert np.median(d) < 2.0


def test_shift_crop_moves_the_window(sample_image_path):
    img = read_image(sample_image_path)
    m = crop_matrix(np.array([250.0, 230.0]), 300.0)
    a, b = warp_crop(img, m), warp_crop(img, shift_crop(m, (10, -7)))
    # the window moved 10 crop pixels right and 7 up: b[y, x] == a[y - 7, x + 10]
    diff = np.abs(b[7:, :-10].astype(int) - a[:-7, 10:])
    assert diff.max() <= 1  # bilinear rounding only


def test_tta_modes(prn, sample_image_path):
    from prnet import PRN
    from prnet.apps.tracking import reconstruct_in_order
    from prnet.errors import PRNetError

    assert PRN(device="cpu", backend="torch", tta=True).tta == "flip" and PRN(device="cpu", tta=False).tta == "off"
    with pytest.raises(PRNetError, match="tta must be one of off, flip, shift"):
        PRN(device="cpu", tta="rotate")
    img = read_image(sample_image_path)
    box = prn.detector.detect(img)[0].box
    faces = {}
    for mode in ("off", "flip", "shift"):
        p = PRN(device="cpu", backend="torch", tta=mode)
        calls = []  # batch size of every network pass (a hook on the public torch module)
        hook = p.net.register_forward_pre_hook(lambda m, args, c=calls: c.append(len(args[0])))
        faces[mode] = p.reconstruct(img, boxes=[box])[0]
        assert sum(calls) == {"off": 1, "flip": 2, "shift": 10}[mode]
        # the result keeps the unshifted crop
        np.testing.assert_allclose(faces[mode].crop_matrix, faces["off"].crop_matrix)
        # video tracking reconstructs through the same crop → position-map path
        calls.clear()
        reconstruct_in_order(p, img, boxes=[box], refine_boxes=False)
        assert sum(calls) == {"off": 1, "flip": 2, "shift": 10}[mode]
        hook.remove()
    # averaging over shifted crops happens in image space: the face stays where it was
    d = np.linalg.norm(faces["shift"].landmarks[:, :2] - faces["flip"].landmarks[:, :2], axis=1)
    width = np.ptp(faces["off"].landmarks[:, 0])
    assert np.median(d) < 0.02 * width
    assert not np.allclose(faces["shift"].posmap, faces["flip"].posmap)


def test_precision_options_are_checked():
    from prnet import PRN
    from prnet.errors import PRNetError

    with pytest.raises(PRNetError, match="precision must be one of"):
        PRN(device="cpu", precision="int4")
    with pytest.raises(PRNetError, match="precision fp16 needs a CUDA device"):
        PRN(device="cpu", half=True)
    with pytest.raises(PRNetError, match="batch_size must be >= 1"):
        PRN(device="cpu", batch_size=0)
    assert PRN(device="cpu").batch_size == 1


def test_cpu_bf16_where_native(prn, crop, monkeypatch):
    from prnet import PRN
    from prnet.errors import PRNetError
    from prnet.models import precision

    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    with pytest.raises(PRNetError, match="this CPU has no native bf16"):
        PRN(device="cpu", precision="bf16")
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    fast = PRN(device="cpu", precision="bf16")
    d = np.abs(fast.predict_crops(crop[None]) - prn.predict_crops(crop[None]))[0][prn.layout.face_mask]
    assert fast.predict_crops(crop[None]).dtype == np.float32
    assert np.median(d) < 0.5  # crop pixels: bf16 moves the surface by a fraction of a pixel


def test_landmarks_at_bfm_texels_on_request(prn, sample_image_path, monkeypatch):
    """``prn.layout = load_layout(landmark_texels="")`` reads the landmarks at the BFM keypoint
    texels instead of the calibrated ones; the dense surface is the same."""
    from prnet.uv.layout import load_layout

    calibrated = prn.reconstruct(sample_image_path)[0]
    monkeypatch.setattr(prn, "layout", load_layout(landmark_texels=""))
    plain = prn.reconstruct(sample_image_path)[0]
    np.testing.assert_allclose(plain.posmap, calibrated.posmap)
    k = plain.layout.kpt_uv_bfm
    np.testing.assert_allclose(plain.landmarks, plain.posmap[k[:, 1], k[:, 0]])
    assert np.abs(plain.landmarks - calibrated.landmarks).max() > 1.0
