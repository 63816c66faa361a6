"""The AFLW2000-3D runner (prnet.eval.protocol) on synthetic data: no weights, no ../shared.

A fake BFM (random smooth mean shape, zero bases) stands in for the real one, so the ground
truth is known exactly; fake predictors return it shifted, perfect or not at all.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from prnet.bfm import BFM
from prnet.errors import PRNetError
from prnet.eval.aflw2000 import AFLWSample, gt_mesh
from prnet.eval.metrics import icp_align, rigid_icp_nme
from prnet.eval.protocol import (
    Prediction,
    PRNPredictor,
    best_detection,
    evaluate_aflw2000,
    ground_truth,
    rotation_error_deg,
    score_prediction,
)
from prnet.geometry.pose import angles_to_matrix
from prnet.uv.layout import load_layout

N_BFM = 53215


@pytest.fixture(scope="module")
def fake_bfm() -> BFM:
    """A BFM-sized model: a smooth bumpy cap (±80 units), zero shape/expression bases."""
    rng = np.random.default_rng(0)
    uv = rng.uniform(-1, 1, (N_BFM, 2))
    z = 40 * np.exp(-2 * (uv**2).sum(1)) + 10 * uv[:, 0] * uv[:, 1]
    mean = np.c_[uv * 80, z].astype(np.float32)
    kp = np.linspace(0, N_BFM - 1, 68).astype(np.int64)
    return BFM(mean, np.zeros((N_BFM, 3, 40), np.float32), np.zeros((N_BFM, 3, 10), np.float32), kp)


def _sample(path: Path, bfm: BFM, yaw_deg: float) -> AFLWSample:
    """A synthetic AFLW2000-3D sample whose pt3d_68 is exactly the rebuilt mesh's keypoints."""
    cv2.imwrite(str(path), np.full((450, 450, 3), 128, np.uint8))
    pose = np.array([0.1, np.deg2rad(yaw_deg), -0.05, 225.0, 225.0, 0.0, 1.2])
    s = AFLWSample(path, np.zeros((68, 3), np.float32), -np.ones((21, 2), np.float32), pose,
                   np.zeros(199), np.zeros(29))
    pts = gt_mesh(s, bfm)[bfm.keypoints].astype(np.float32)
    return AFLWSample(path, pts, s.pt2d_21, pose, s.shape, s.exp)


@pytest.fixture(scope="module")
def samples(tmp_path_factory, fake_bfm) -> list[AFLWSample]:
    d = tmp_path_factory.mktemp("aflw")
    return [_sample(d / f"image{i:05d}.jpg", fake_bfm, y)
            for i, y in enumerate([10.0, -20.0, 45.0, 75.0])]


def _norm(s: AFLWSample) -> float:
    span = s.pt3d_68[:, :2].max(0) - s.pt3d_68[:, :2].min(0)
    return float(np.sqrt(span[0] * span[1]))


def test_gt_mesh_formula(fake_bfm) -> None:
    """X = s·R·V + t, then y_img = 450 + 1 − y (hand-computed for one vertex)."""
    s = AFLWSample(Path("x.jpg"), np.zeros((68, 3)), np.zeros((21, 2)),
                   np.array([0.2, -0.4, 0.3, 10.0, 20.0, 30.0, 2.0]), np.zeros(199), np.zeros(29))
    v = fake_bfm.mean[123].astype(np.float64)
    x = 2.0 * angles_to_matrix(0.2, -0.4, 0.3) @ v + [10.0, 20.0, 30.0]
    np.testing.assert_allclose(gt_mesh(s, fake_bfm)[123], [x[0], 451.0 - x[1], x[2]], atol=1e-4)
    np.testing.assert_allclose(gt_mesh(s, fake_bfm, height=100)[123, 1], 101.0 - x[1], atol=1e-4)


def test_best_detection() -> None:
    gt = np.array([10.0, 10.0, 30.0, 30.0])
    boxes = np.array([[100, 100, 120, 120], [15, 15, 35, 35], [0, 0, 40, 40]], float)
    # IoU: 0, 225/575 = 0.391, 400/1600 = 0.25
    assert best_detection(boxes, gt) == 1
    assert best_detection(boxes[[0, 2]], gt) == 1
    assert best_detection(boxes[:1], gt) is None  # no overlap: the wrong face, a failure
    assert best_detection(np.zeros((0, 4)), gt) is None


def test_rotation_error() -> None:
    assert rotation_error_deg([0, 10, 0], [0, 0, 0]) == pytest.approx(10.0)
    assert rotation_error_deg([5, -30, 12], [5, -30, 12]) == pytest.approx(0.0, abs=1e-5)
    # gimbal lock: at yaw = 90° only pitch − roll matters, so (30, 90, 30) ≡ (0, 90, 0)
    assert rotation_error_deg([30, 90, 30], [0, 90, 0]) == pytest.approx(0.0, abs=1e-5)


def test_score_prediction_by_hand(samples, fake_bfm) -> None:
    layout = load_layout()
    s = samples[0]
    gt = ground_truth(s, fake_bfm, layout, 450)
    shifted = Prediction(gt.pt3d_68 + [2.0, 0.0, 5.0], gt.vertices + [2.0, 0.0, 5.0],
                         gt.angles_deg + [0.0, 3.0, -1.0])
    out = score_prediction(shifted, gt)
    expected = 2.0 / _norm(s)  # a 2-px x shift; the z shift is removed by centring
    assert out["nme2d"] == pytest.approx(expected)
    assert out["nme3d"] == pytest.approx(expected)
    assert out["dense2d"] == pytest.approx(expected)
    assert out["nme2d_jaw"] == pytest.approx(expected) and out["nme2d_mouth"] == pytest.approx(expected)
    assert out["dense3d"] == pytest.approx(expected)
    assert out["recon"] == pytest.approx(0.0, abs=1e-6)  # rigid alignment removes a translation
    assert (out["pitch_err"], out["yaw_err"], out["roll_err"]) == pytest.approx((0.0, 3.0, 1.0))
    assert out["yaw"] == pytest.approx(gt.angles_deg[1] + 3.0)
    fail = score_prediction(None, gt)
    assert all(math.isnan(v) for v in fail.values())


def test_icp_sample_matches_full() -> None:
    """A subsample aligns like the full set; the error is still measured against all of gt."""
    u, v = np.meshgrid(np.linspace(-1, 1, 60), np.linspace(-1, 1, 60))
    gt = np.stack([u, v, 0.5 * np.exp(-2 * (u**2 + v**2)) + 0.2 * u * v], -1).reshape(-1, 3) * 80
    rot = angles_to_matrix(0.2, -0.3, 0.1)
    pred = gt @ rot.T + [3.0, -2.0, 1.0]
    every4 = np.arange(0, len(gt), 4)
    s, r, _ = icp_align(pred, gt, iters=10, sample=every4)
    np.testing.assert_allclose(r, rot.T, atol=1e-6)
    assert s == pytest.approx(1.0)
    eyes = np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 0.0]])
    assert rigid_icp_nme(pred, gt, eyes, sample=every4) < 1e-6
    # iters = 0: plain correspondence error of the sampled rows (hand-computed: ±1 px in z)
    noisy = gt.copy()
    noisy[:, 2] += np.where(np.arange(len(gt)) % 8 == 0, 1.0, -1.0)
    val = rigid_icp_nme(noisy, gt, eyes, iters=0, with_scale=False, sample=np.arange(0, len(gt), 8))
    assert val == pytest.approx(0.0, abs=1e-9)  # sampled rows all moved by +1: a translation
    val = rigid_icp_nme(noisy, gt, eyes, iters=0, with_scale=False, sample=np.arange(0, len(gt), 4))
    assert 0.97 / 40 < val <= 1.0 / 40  # half +1, half −1: the fit can only lower ±1 px


class _Fake:
    """Returns the ground truth shifted by (dx, 0, 0); None for the images in ``fail``;
    a fallback prediction (shifted by 2·dx) for those in ``fallback``."""

    def __init__(self, bfm: BFM, dx: float, fail: set[str] = frozenset(),
                 fallback: set[str] = frozenset()) -> None:
        self.bfm, self.dx, self.fail, self.fallback = bfm, dx, fail, fallback
        self.layout = load_layout()

    def __call__(self, image: np.ndarray, sample: AFLWSample) -> Prediction | None:
        assert image.shape == (450, 450, 3)
        name = sample.image_path.name
        if name in self.fail:
            return None
        gt = ground_truth(sample, self.bfm, self.layout, 450)
        dx = 2 * self.dx if name in self.fallback else self.dx
        return Prediction(gt.pt3d_68 + [dx, 0, 0], gt.vertices + [dx, 0, 0], gt.angles_deg,
                          fallback=name in self.fallback)


def test_runner_failures_summary_and_reports(samples, fake_bfm, tmp_path) -> None:
    names = [s.image_path.name for s in samples]
    preds = {"ours": _Fake(fake_bfm, 1.0, fallback={names[1]}),
             "other": _Fake(fake_bfm, 3.0, fail={names[3]})}
    ev = evaluate_aflw2000(samples, preds, fake_bfm, progress=False, meta={"crop": "detector"})
    e = np.array([1.0 / _norm(s) for s in samples])  # per-image NME of a 1-px shift, fraction
    np.testing.assert_array_equal(ev.bins, [0, 0, 1, 2])
    assert np.max(ev.gt_rebuild["nme2d"]) < 1e-6  # pt3d_68 is the rebuilt mesh here

    out = ev.summary()
    assert out["method"] == "ours" and out["n_images"] == 4
    # image 1 failed (scored by its fallback only in the *_fallback figures)
    assert out["failures"] == 1 and out["failures_bins"] == [1, 0, 0]
    assert out["failed_images"] == [names[1]]
    np.testing.assert_allclose(out["nme2d_bins"], 100 * e[[0, 2, 3]], rtol=1e-4)
    assert out["nme2d_balanced"] == pytest.approx(100 * e[[0, 2, 3]].mean(), rel=1e-4)
    assert out["nme2d_mean"] == pytest.approx(100 * e[[0, 2, 3]].mean(), rel=1e-4)
    fb = e * [1, 2, 1, 1]  # the fallback of image 1 is off by 2 px
    assert out["nme2d_balanced_fallback"] == pytest.approx(
        100 * np.mean([fb[:2].mean(), fb[2], fb[3]]), rel=1e-4)
    assert out["nme2d_mean_fallback"] == pytest.approx(100 * fb.mean(), rel=1e-4)
    assert out["dense_nme2d_balanced"] == pytest.approx(out["nme2d_balanced"], rel=1e-4)
    assert out["recon_nme_mean"] == pytest.approx(0.0, abs=1e-4)
    assert out["pose_mae_deg"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert out["pose_mae_deg"]["n"] == 3 and out["pose_mae_deg_99"]["n"] == 3
    assert set(out["nme2d_groups"]) == {"jaw", "brows", "nose", "eyes", "mouth"}
    assert out["nme2d_groups"]["eyes"]["balanced"] == pytest.approx(out["nme2d_balanced"], rel=1e-4)
    for key in ("nme3d_bins", "nme3d_balanced", "nme3d_mean", "dense_nme3d_mean", "recon_nme_bins"):
        assert key in out

    other = out["baselines"]["other"]
    assert other["failures"] == 1 and other["failures_bins"] == [0, 0, 1]
    assert other["nme2d_bins"][2] is None  # the only 60-90 image failed: an empty bin
    assert other["balanced_complete"] is False
    assert "nme2d_balanced_fallback" not in other  # no fallback predictions: no variant
    assert other["nme2d_balanced"] == pytest.approx(100 * 3 * np.mean([e[:2].mean(), e[2]]),
                                                    rel=1e-4)
    json.dumps(out, allow_nan=False)  # strict JSON (None for NaN)

    rows = list(csv.DictReader(ev.write_csv(tmp_path / "per_image.csv").open()))
    assert len(rows) == 8 and rows[0]["method"] == "ours" and rows[4]["method"] == "other"
    assert rows[1]["ok"] == "False" and rows[1]["fallback"] == "True"
    assert float(rows[0]["nme2d"]) == pytest.approx(e[0])
    assert rows[7]["nme2d"] == "nan"
    md = ev.markdown()
    assert "| Method | 2D 0-30 |" in md and "approximate" in md and "1 of 4" in md
    assert "whole-image crop" in md
    assert "by landmark group" in md and "| ours: jaw (17) |" in md
    png = ev.plot_ced(tmp_path / "ced.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_runner_errors(samples, fake_bfm) -> None:
    with pytest.raises(PRNetError, match="no AFLW2000-3D samples"):
        evaluate_aflw2000([], {"a": _Fake(fake_bfm, 0.0)}, fake_bfm)
    with pytest.raises(PRNetError, match="no methods"):
        evaluate_aflw2000(samples, {}, fake_bfm)
    with pytest.raises(PRNetError, match="crop: expected one of gt, detector"):
        PRNPredictor(None, "boxes")


def test_eval_cli_errors(tmp_path, capsys) -> None:
    from prnet.cli import main

    assert main(["eval", "aflw2000", str(tmp_path / "nope")]) == 1
    assert "not a folder" in capsys.readouterr().err
    rc = main(["eval", "aflw2000", str(tmp_path), "--baseline", "teacher",
               "--teacher-dir", str(tmp_path / "no_teacher")])
    err = capsys.readouterr().err
    assert rc == 1 and "3DDFA_V2 teacher not found" in err and "--teacher-dir" in err
    assert main(["eval", "aflw2000", str(tmp_path)]) == 1
    assert "no AFLW2000-3D .mat files" in capsys.readouterr().err
