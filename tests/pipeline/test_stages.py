"""The staged pipeline: the public stages compose to ``reconstruct``, ``reconstruct_batch``
equals per-image reconstruction, precomputed boxes are just a detector, model options are
declared once, and cheap outputs do not pay for dense ones."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from prnet.detect import BoxesDetector
from prnet.errors import PRNetError
from prnet.io import read_image
from prnet.pipeline import PRN, FacePlan, ModelOptions


@pytest.fixture(scope="module")
def astro(sample_image_path):
    return read_image(sample_image_path)


def test_stages_compose_to_reconstruct(prn, astro):
    dets = prn.detect(astro)
    plans = prn.plan(dets)
    assert [p.source for p in plans] == ["detector"] and isinstance(plans[0], FacePlan)
    batch = prn.crop(astro, plans)
    assert batch.crops.shape == (1, 256, 256, 3) and batch.views == 1 and batch.faces == 1
    maps = prn.predict_crops(batch.crops)
    faces = prn.faces(astro, plans, prn.uncrop(batch, maps))
    ref = prn.reconstruct(astro)
    assert len(faces) == len(ref) == 1
    np.testing.assert_array_equal(faces[0].posmap, ref[0].posmap)
    np.testing.assert_array_equal(faces[0].crop_matrix, ref[0].crop_matrix)
    assert faces[0].score == ref[0].score


def test_reconstruct_batch_equals_one_by_one(prn, astro):
    flipped = np.ascontiguousarray(astro[:, ::-1])
    blank = np.zeros((64, 80, 3), np.uint8)
    batch = prn.reconstruct_batch([astro, blank, flipped])
    assert [len(f) for f in batch] == [1, 0, 1]
    for got, img in zip(batch, (astro, blank, flipped), strict=True):
        ref = prn.reconstruct(img)
        for a, b in zip(got, ref, strict=True):
            # a batch of 2 and a batch of 1 run different convolution kernels: measured up
            # to 5e-3 px apart on this CPU (torch 2.13, 2 threads)
            np.testing.assert_allclose(a.posmap, b.posmap, atol=0.02)
            assert a.image is img or np.array_equal(a.image, img)


def test_given_boxes_landmarks_and_key_detector_agree(prn, astro):
    box = prn.detect(astro)[0].box
    by_box = prn.reconstruct(astro, boxes=[box])[0]
    keyed = PRN(device="cpu", backend="torch", detector=BoxesDetector({"astro.jpg": [box.tolist()]}))
    by_key = keyed.reconstruct(astro, key="photos/astro.jpg")[0]
    np.testing.assert_array_equal(by_key.posmap, by_box.posmap)
    assert keyed.reconstruct(astro, key="other.jpg") == []
    with pytest.raises(PRNetError, match="needs the image's name"):
        keyed.reconstruct(astro)
    by_kpt = prn.reconstruct(astro, landmarks=[by_box.landmarks[:, :2]])[0]
    assert prn.plan(landmarks=[by_box.landmarks])[0].source == "landmarks"
    assert np.abs(by_kpt.landmarks - by_box.landmarks)[:, :2].max() < 3.0


def test_order_of_faces(prn, astro):
    canvas = np.zeros((512, 1024, 3), np.uint8)
    canvas[:, :512], canvas[:, 512:] = astro, astro
    box = prn.detect(astro)[0].box
    right, left = box + np.array([512, 0, 512, 0], np.float32), box
    faces = prn.reconstruct(canvas, boxes=[right, left])
    assert [f.index for f in faces] == [0, 1] and faces[0].box[0] < faces[1].box[0]
    plans = prn.plan(boxes=[right, left])
    kept = prn.faces(canvas, plans, prn.posmaps(canvas, plans), order="input")
    assert kept[0].box[0] > kept[1].box[0]


def test_cheap_outputs_do_not_pay_for_dense_ones(prn, astro):
    face = prn.reconstruct(astro)[0]
    _ = face.landmarks, face.pose
    for costly in ("colors", "raster", "region_raster", "visibility", "landmark_visibility",
                   "frontal_vertices"):
        assert costly not in face.__dict__, costly
    _ = face.landmark_visibility
    # the z-buffer of the face's box only: no (H, W) frame-sized arrays
    assert "region_raster" in face.__dict__ and "raster" not in face.__dict__
    assert "colors" not in face.__dict__


def test_model_options_checked_and_shared():
    assert ModelOptions(tta=True).tta == "flip" and ModelOptions(tta=False).tta == "off"
    for bad in ({"tta": "rotate"}, {"precision": "int4"}, {"batch_size": 0}):
        with pytest.raises(PRNetError):
            ModelOptions(**bad)
    ns = argparse.Namespace(device="cpu", tta="shift", refine=True, unrelated=1)
    opts = ModelOptions.from_namespace(ns, batch_size=2)
    assert (opts.device, opts.tta, opts.refine, opts.batch_size) == ("cpu", "shift", True, 2)
    p = PRN(options=opts.replace(refine=False))
    assert (p.tta, p.refine, p.batch_size, p.network.flip) == ("shift", False, 2, True)
    p.tta = "off"
    assert p.network.flip is False and p.options.tta == "off"


MODEL_FLAGS = {"--device", "--model", "--weights", "--detector", "--batch-size", "--refine",
               "--tta", "--tta-shift", "--precision", "--backend", "--onnx"}


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_network_command_has_the_same_model_flags():
    from prnet.cli import build_parser

    seen = {}
    for name, sub in _subparsers(build_parser()):
        flags = {o for a in sub._actions for o in a.option_strings}
        # train and export do not run the pipeline (export onnx only takes --model/--weights)
        if "--weights" in flags and name.split()[0] not in ("train", "export"):
            assert MODEL_FLAGS <= flags, (name, MODEL_FLAGS - flags)
            det = next(a for a in sub._actions if "--detector" in a.option_strings)
            seen[name] = tuple(det.choices)
    assert {"reconstruct", "demo", "swap", "texture", "video", "bench", "eval aflw2000"} <= set(seen)
    assert len(set(seen.values())) == 1  # the same detector choices everywhere
