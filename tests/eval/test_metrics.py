"""Tests for prnet.eval.metrics and prnet.eval.report."""

from __future__ import annotations

import csv
import math
import sys

import numpy as np
import pytest

from prnet.errors import InputShapeError, PRNetError
from prnet.eval.metrics import (
    LANDMARK_GROUPS,
    ced_curve,
    dense_nme,
    icp_align,
    nme_68,
    nme_68_groups,
    pose_mae,
    rigid_icp_nme,
    summarize,
    yaw_bins,
)
from prnet.eval.report import markdown_table, plot_ced, write_csv
from prnet.geometry.pose import angles_to_matrix


def _box_landmarks(rng: np.random.Generator, batch: int = 1) -> np.ndarray:
    """(B, 68, 3) landmarks whose 2D box is exactly 100 x 50 px."""
    pts = np.stack(
        [
            rng.uniform(10, 110, (batch, 68)),
            rng.uniform(20, 70, (batch, 68)),
            rng.normal(0, 20, (batch, 68)),
        ],
        axis=-1,
    )
    pts[:, 0, :2] = [10, 20]
    pts[:, 1, :2] = [110, 70]
    return pts


def test_nme_68_one_pixel_offset() -> None:
    gt = _box_landmarks(np.random.default_rng(0), 2)
    pred = gt + [1.0, 0.0, 0.0]
    expected = 1.0 / math.sqrt(5000.0)
    np.testing.assert_allclose(nme_68(pred, gt, dims=2), [expected, expected])
    np.testing.assert_allclose(nme_68(pred, gt, dims=3), [expected, expected])
    np.testing.assert_allclose(nme_68(pred[..., :2], gt, dims=2), [expected, expected])


def test_nme_68_3d_centres_z_separately() -> None:
    gt = _box_landmarks(np.random.default_rng(1))
    pred = gt + [0.0, 0.0, 37.0]  # a pure depth offset is not an error
    np.testing.assert_allclose(nme_68(pred, gt, dims=3), [0.0], atol=1e-12)
    pred = gt.copy()
    pred[0, :34, 2] += 2.0  # half the points 2 px deeper: after centring ±1 px
    np.testing.assert_allclose(nme_68(pred, gt, dims=3), [1.0 / math.sqrt(5000.0)])


def test_nme_68_groups_split_the_68_point_error() -> None:
    gt = _box_landmarks(np.random.default_rng(2), 3)
    pred = gt.copy()
    pred[:, :17, 0] += 3.0  # only the jaw is off, by 3 px
    groups = nme_68_groups(pred, gt, dims=2)
    assert list(groups) == ["jaw", "brows", "nose", "eyes", "mouth"]
    np.testing.assert_allclose(groups["jaw"], 3.0 / math.sqrt(5000.0))
    for name in ("brows", "nose", "eyes", "mouth"):
        np.testing.assert_allclose(groups[name], 0.0, atol=1e-12)
    # the groups partition the 68 points: their size-weighted mean is the 68-point NME
    pred = gt + np.random.default_rng(3).normal(0, 2, gt.shape)
    groups = nme_68_groups(pred, gt, dims=3)
    sizes = {k: sl.stop - sl.start for k, sl in LANDMARK_GROUPS.items()}
    assert sum(sizes.values()) == 68
    np.testing.assert_allclose(sum(sizes[k] * groups[k] for k in groups) / 68, nme_68(pred, gt, 3))
    with pytest.raises(InputShapeError):
        nme_68_groups(pred[:, :60], gt[:, :60])


def test_nme_errors() -> None:
    gt = _box_landmarks(np.random.default_rng(2))
    with pytest.raises(InputShapeError, match=r"\(B, 68, 2\|3\)"):
        nme_68(gt[:, :60], gt)
    with pytest.raises(InputShapeError, match="need ≥3 coordinates"):
        nme_68(gt[..., :2], gt, dims=3)
    with pytest.raises(PRNetError, match="dims"):
        nme_68(gt, gt, dims=4)
    flat = gt.copy()
    flat[..., 1] = 5.0
    with pytest.raises(PRNetError, match="zero width or height"):
        nme_68(gt, flat)


def test_dense_nme_uses_landmark_box() -> None:
    rng = np.random.default_rng(3)
    box = _box_landmarks(rng, 2)
    gt = rng.normal(50, 30, (2, 500, 3))
    pred = gt + [0.0, 2.0, 0.0]
    np.testing.assert_allclose(dense_nme(pred, gt, box), 2.0 / math.sqrt(5000.0))
    with pytest.raises(InputShapeError):
        dense_nme(pred[:, :400], gt, box)


def test_yaw_bin_edges() -> None:
    yaw = [0.0, 29.99, 30.0, 30.01, 60.0, 60.01, 90.0, 99.0, -45.0]
    np.testing.assert_array_equal(yaw_bins(yaw), [0, 0, 0, 1, 1, 2, 2, 2, 1])
    with pytest.raises(PRNetError):
        yaw_bins([np.nan])


def test_summarize_balanced_vs_overall() -> None:
    nme = np.array([0.01, 0.03, 0.04, 0.06, 0.10])
    bins = np.array([0, 0, 1, 1, 2])
    s = summarize(nme, bins)
    assert s["0-30"] == pytest.approx(0.02)
    assert s["30-60"] == pytest.approx(0.05)
    assert s["60-90"] == pytest.approx(0.10)
    assert s["balanced"] == pytest.approx((0.02 + 0.05 + 0.10) / 3)
    assert s["mean"] == pytest.approx(0.048)
    assert s["balanced_complete"] is True
    assert (s["n"], s["n_0-30"], s["n_30-60"], s["n_60-90"], s["n_nan"]) == (5, 2, 2, 1, 0)


def test_summarize_empty_bin_and_nan() -> None:
    s = summarize(np.array([0.01, 0.03, np.nan, 0.05]), np.array([0, 0, 2, 1]))
    assert math.isnan(s["60-90"])
    assert s["balanced"] == pytest.approx((0.02 + 0.05) / 2)
    assert s["balanced_complete"] is False
    assert s["mean"] == pytest.approx(0.03)
    assert (s["n"], s["n_nan"]) == (3, 1)
    empty = summarize(np.array([]), np.array([], dtype=int))
    assert math.isnan(empty["balanced"]) and math.isnan(empty["mean"])
    with pytest.raises(PRNetError, match="bins"):
        summarize(np.array([0.1]), np.array([3]))


def _surface(n: int = 40) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    return np.stack([u, v, 0.5 * np.exp(-2 * (u**2 + v**2)) + 0.2 * u * v], -1).reshape(-1, 3) * 80


def test_icp_recovers_known_rotation() -> None:
    gt = _surface()
    rot = angles_to_matrix(0.3, -0.6, 0.2)
    pred = 1.3 * gt @ rot.T + [5.0, -7.0, 2.0]
    # slide the correspondence of a third of the rows by one grid step (one-sided, so the
    # correspondence fit is biased); nearest-neighbour ICP removes the bias
    rng = np.random.default_rng(4)
    rows = rng.choice(len(pred) - 1, len(pred) // 3, replace=False)
    rows = rows[(rows + 1) % 40 != 0]
    pred[rows] = pred[rows + 1]
    _, r0, _ = icp_align(pred, gt, iters=0)
    s, r, _ = icp_align(pred, gt, iters=50)
    assert np.abs(r0 - rot.T).max() > 1e-3
    np.testing.assert_allclose(r, rot.T, atol=1e-6)
    assert s == pytest.approx(1 / 1.3, rel=1e-3)  # fixed by the correspondence fit
    eyes = gt[[0, 39]]
    after = rigid_icp_nme(pred, gt, eyes, iters=50)
    assert after < 1e-3 < rigid_icp_nme(pred, gt, eyes, iters=0)


def test_rigid_icp_nme_value() -> None:
    gt = _surface(20)
    pred = gt.copy()
    pred[:, 2] += np.where(np.arange(len(gt)) % 2 == 0, 1.0, -1.0)  # ±1 px, mean 0
    eyes = np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 0.0]])
    value = rigid_icp_nme(pred, gt, eyes, iters=0, with_scale=False)
    assert 0.97 / 40 < value <= 1 / 40  # the alignment can only lower the ±1 px error
    with pytest.raises(PRNetError, match="coincide"):
        rigid_icp_nme(pred, gt, np.zeros((2, 3)))


def test_pose_mae_wraps() -> None:
    pred = np.array([[359.0, 10.0, -170.0], [0.0, 20.0, 175.0]])
    gt = np.array([[1.0, 15.0, 170.0], [0.0, 10.0, -175.0]])
    np.testing.assert_allclose(pose_mae(pred, gt), [1.0, 7.5, 15.0])
    with pytest.raises(InputShapeError):
        pose_mae(pred[:, :2], gt[:, :2])


def test_ced_curve() -> None:
    nme = np.array([0.01, 0.02, 0.02, 0.05, 0.2, np.nan])
    x, y = ced_curve(nme, max_x=0.1, num=11)
    np.testing.assert_allclose(x, np.linspace(0, 0.1, 11))
    assert np.all(np.diff(y) >= 0)
    assert y[0] == 0.0
    assert y[1] == pytest.approx(1 / 6)  # x = 0.01 (inclusive)
    assert y[2] == pytest.approx(3 / 6)
    assert y[-1] == pytest.approx(4 / 6)  # 0.2 and NaN never count
    x, y = ced_curve(np.random.default_rng(5).uniform(0, 0.1, 1000))
    assert np.all(np.diff(y) >= 0) and y[-1] == 1.0


def test_markdown_table() -> None:
    full = summarize(np.array([0.0275, 0.0351, 0.0461]), np.array([0, 1, 2]))
    partial = summarize(np.array([0.02, 0.04]), np.array([0, 1]))
    text = markdown_table({"PRNet": {"2D": full, "3D": partial}, "Ours": {"2D": partial}})
    lines = text.splitlines()
    assert lines[0] == (
        "| Method | 2D 0-30 | 2D 30-60 | 2D 60-90 | 2D balanced | 2D mean"
        " | 3D 0-30 | 3D 30-60 | 3D 60-90 | 3D balanced | 3D mean |"
    )
    assert lines[1] == "|:---|" + "---:|" * 10
    assert lines[2] == (
        "| PRNet | 2.75 | 3.51 | 4.61 | 3.62 | 3.62 | 2.00 | 4.00 | n/a | 3.00* | 3.00 |"
    )
    assert lines[3] == "| Ours | 2.00 | 4.00 | n/a | 3.00* | 3.00 | n/a | n/a | n/a | n/a | n/a |"
    assert lines[-1].startswith("\\* balanced mean over the non-empty")
    assert text.endswith("\n")


def test_write_csv_round_trip(tmp_path) -> None:
    rows = [
        {"image": "a.jpg", "nme": 0.1 + 0.2, "bin": np.int64(1)},
        {"image": "b.jpg", "nme": np.float32(0.5), "extra": float("nan")},
    ]
    path = write_csv(tmp_path / "sub" / "rows.csv", rows)
    with path.open(newline="") as fh:
        back = list(csv.DictReader(fh))
    assert list(back[0]) == ["image", "nme", "bin", "extra"]
    assert back[0]["image"] == "a.jpg" and float(back[0]["nme"]) == 0.1 + 0.2
    assert back[0]["bin"] == "1" and back[0]["extra"] == ""
    assert float(back[1]["nme"]) == 0.5 and math.isnan(float(back[1]["extra"]))
    with pytest.raises(PRNetError, match="non-scalar"):
        write_csv(tmp_path / "bad.csv", [{"a": np.zeros(3)}])


def test_plot_ced(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(6)
    path = plot_ced(tmp_path / "ced.png", {"a": rng.uniform(0, 0.08, 50), "b": [0.01, np.nan]})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_ced_without_matplotlib(tmp_path, monkeypatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PRNetError, match="pip install matplotlib"):
        plot_ced(tmp_path / "ced.png", {"a": [0.01]})
