"""The validation layer through the API: bad boxes and landmarks are refused by the plan stage,
broken weights at load or by the check after ``uncrop``, non-finite faces by the writers, bad
sizes and options with one-line typed errors; normal inputs are untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from prnet import PRN
from prnet.errors import (
    InputShapeError,
    InvalidInputError,
    PRNetError,
    ReconstructionError,
    WeightsError,
)
from prnet.io import read_image
from prnet.models.weights import BUNDLED, DEFAULT_MODEL
from prnet.outputs import ExportOptions, export_image
from prnet.pipeline import ModelOptions
from prnet.validation import check_boxes, check_landmarks, check_posmaps

BOX = [177.3, 80.2, 271.7, 174.6]  # the astronaut's face (512 x 512)


@pytest.fixture(scope="module")
def astro(sample_image_path):
    return read_image(sample_image_path)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# ----------------------------------------------------------------- boxes and landmarks


@pytest.mark.parametrize("box, words", [
    ([0, 0, 1e9, 1e9], "too large"),
    ([1e4, 1e4, 1e4 + 50, 1e4 + 50], "entirely outside"),
    ([-300, -300, -100, -100], "entirely outside"),
    ([271.7, 174.6, 177.3, 80.2], "not ordered"),
    ([177.3, 174.6, 271.7, 80.2], "not ordered"),
    ([float("nan"), 80, 270, 170], "not finite"),
    ([177, 80, float("inf"), 170], "not finite"),
    ([100, 100, 100, 100], "degenerate"),
    ([100, 100, 101, 150], "degenerate"),
    (["a", "b", "c", "d"], "not numbers"),
    ([1, 2, None, 4], "not numbers"),
    ([1, 2, 3], "expected [x0, y0, x1, y1]"),
])
def test_bad_box_is_refused_naming_index_and_value(prn, astro, box, words):
    with pytest.raises(InvalidInputError) as exc:
        prn.reconstruct(astro, boxes=[BOX, box])
    text = one_line(exc)
    assert words in text and text.startswith("box 1")


def test_box_partly_outside_is_kept_unclipped(prn, astro):
    box = [-40.0, -30.0, 60.0, 70.0]
    plans = prn.plan(boxes=[box], image_shape=astro.shape[:2])
    np.testing.assert_array_equal(plans[0].box, np.float32(box))
    assert len(prn.reconstruct(astro, boxes=[box])) == 1


def test_good_box_gives_the_same_face_as_before(prn, astro):
    """A plain box still works (the plan stage only checks it)."""
    face = prn.reconstruct(astro, boxes=[BOX])[0]
    assert np.isfinite(face.landmarks).all() and abs(face.pose.roll) < 30


@pytest.mark.parametrize("points, error, words", [
    (np.full((68, 2), 50.0), InvalidInputError, "degenerate"),
    (np.r_[np.random.default_rng(0).uniform(180, 260, (67, 2)), [[np.nan, 1.0]]],
     InvalidInputError, "point 67"),
    (np.random.default_rng(0).uniform(180, 260, (68, 2)) + 1e5, InvalidInputError,
     "entirely outside"),
    (np.zeros((4, 2)), InputShapeError, "at least 5 points"),
    (np.array([["a", "b"]] * 68), InvalidInputError, "not numbers"),
])
def test_bad_landmarks_are_refused(prn, astro, points, error, words):
    with pytest.raises(error) as exc:
        prn.reconstruct(astro, landmarks=[points])
    text = one_line(exc)
    assert words in text and "landmarks 0" in text


def test_good_landmarks_are_planned(prn, astro):
    kpt = prn.reconstruct(astro)[0].landmarks
    assert prn.reconstruct(astro, landmarks=[kpt])[0].landmarks.shape == (68, 3)


def test_numpy_boxes_are_accepted(prn, astro):
    assert len(prn.reconstruct(astro, boxes=np.array([BOX]))) == 1


def test_plan_without_image_shape_checks_the_boxes_themselves(prn):
    with pytest.raises(InvalidInputError, match="not finite"):
        prn.plan(boxes=[[0, 0, np.inf, 10]])
    assert len(prn.plan(boxes=[[1e4, 1e4, 1e4 + 50, 1e4 + 50]])) == 1  # no image: no overlap test


def test_check_functions_directly():
    assert check_boxes([[0, 0, 10, 10, 0.9]], (20, 20))[0].tolist() == [0, 0, 10, 10]
    assert check_landmarks([np.c_[np.arange(5.0), np.arange(5.0) * 2]])[0].shape == (5, 2)
    assert len(check_boxes([[0, 0, 10, 10]], (5, 5))) == 1  # partly outside: kept
    with pytest.raises(InvalidInputError, match="box 0"):
        check_boxes([[10, 10, 20, 20]], (5, 5))
    with pytest.raises(InvalidInputError, match="too large"):
        check_boxes([[0, 0, 2001, 10]], (10, 100))


# ----------------------------------------------------------------- weights and network output


def _weights(tmp_path, name, change) -> str:
    sd = load_file(str(BUNDLED[DEFAULT_MODEL].path))
    path = tmp_path / f"{name}.safetensors"
    save_file({k: change(k, v) for k, v in sd.items()}, str(path),
              metadata={"model": DEFAULT_MODEL, "format": "prnet-1"})
    return str(path)


def test_nan_weights_are_refused_at_load(tmp_path):
    path = _weights(tmp_path, "nan", lambda k, v: v.clone().fill_(float("nan"))
                    if k.endswith("weight") and v.ndim == 4 else v)
    with pytest.raises(WeightsError) as exc:
        PRN(device="cpu", weights=path)
    assert path in one_line(exc) and "NaN" in str(exc.value)


def test_inf_in_one_tensor_is_refused_at_load(tmp_path):
    def one_inf(k, v):
        if k.endswith("mean_posmap"):
            v = v.clone()
            v.view(-1)[7] = float("inf")
        return v

    with pytest.raises(WeightsError, match="mean_posmap"):
        PRN(device="cpu", weights=_weights(tmp_path, "inf", one_inf))


def test_int8_weights_are_refused_at_load(tmp_path):
    path = _weights(tmp_path, "int8", lambda k, v: v.to(torch.int8) if v.is_floating_point() else v)
    with pytest.raises(WeightsError, match="int8"):
        PRN(device="cpu", weights=path)


def test_all_zero_weights_give_an_error_not_a_collapsed_face(tmp_path, astro):
    prn = PRN(device="cpu", backend="torch", weights=_weights(tmp_path, "zero", lambda k, v: torch.zeros_like(v)))
    with pytest.raises(ReconstructionError) as exc:
        prn.reconstruct(astro)
    assert "collapsed" in one_line(exc) and "face 0" in str(exc.value)


@pytest.mark.parametrize("poison, words", [
    (lambda m: m.__setitem__((0, 10, 10, 0), np.nan), "not finite"),
    (lambda m: m.__setitem__(..., m[..., :] * 0 + 128), "collapsed"),
    (lambda m: m.__setitem__(..., (m - 128) * 50), "crop sides across"),
    (lambda m: m.__setitem__(..., m + np.float32([5000, 0, 0])), "outside its crop"),
])
def test_implausible_network_output_is_an_error(prn, astro, monkeypatch, poison, words):
    real = prn.network.__class__.__call__

    def broken(self, crops):
        maps = real(self, crops)
        poison(maps)
        return maps

    monkeypatch.setattr(prn.network.__class__, "__call__", broken)
    with pytest.raises(ReconstructionError) as exc:
        prn.reconstruct(astro)
    assert words in one_line(exc)


def test_posmap_check_passes_real_faces(prn, astro):
    face = prn.reconstruct(astro)[0]
    check_posmaps(face.posmap[None], face.crop_matrix[None], prn.layout)


# ----------------------------------------------------------------- outputs, sizes, options


def test_writers_refuse_non_finite_faces_and_write_nothing(prn, astro, tmp_path):
    good = prn.reconstruct(astro)[0]
    posmap = good.posmap.copy()
    posmap[3, 3, 2] = np.inf
    bad = good.with_posmap(posmap, index=1)
    with pytest.raises(ReconstructionError, match="face 1"):
        export_image([good, bad], tmp_path / "out", "img", ExportOptions.all())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("size", [0, 15, 4097, -1, 2.5, "64", True, None])
def test_texture_size_is_checked(prn, astro, size):
    face = prn.reconstruct(astro)[0]
    with pytest.raises(InvalidInputError) as exc:
        face.uv_texture(size=size)
    assert "size" in one_line(exc)
    with pytest.raises(InvalidInputError):
        ExportOptions(texture_size=size)


def test_texture_size_limits_are_accepted(prn, astro):
    face = prn.reconstruct(astro)[0]
    assert face.uv_texture(size=16).shape == (16, 16, 3)
    assert ExportOptions(texture_size=4096).texture_size == 4096


@pytest.mark.parametrize("changes, error, words", [
    ({"device": 0}, PRNetError, "device"),
    ({"device": ""}, PRNetError, "device"),
    ({"detector": None}, PRNetError, "detector"),
    ({"model": 3}, PRNetError, "model"),
    ({"refine": "yes"}, PRNetError, "refine"),
    ({"weights": "/no/such/file.safetensors"}, WeightsError, "/no/such/file.safetensors"),
    ({"weights": 12}, WeightsError, "weights"),
])
def test_model_options_are_checked_without_loading(changes, error, words):
    with pytest.raises(error) as exc:
        ModelOptions(**changes)
    assert words in one_line(exc)


def test_model_options_weights_folder_is_refused(tmp_path):
    with pytest.raises(WeightsError, match="folder"):
        ModelOptions(weights=tmp_path)
