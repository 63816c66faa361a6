"""One-Euro filter and the tracker's box helpers (no weights needed)."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.apps.smoothing import OneEuroFilter
from prnet.apps.tracking import _greedy_match, box_iou
from prnet.errors import PRNetError

FPS = 30.0


def _run(f: OneEuroFilter, xs: np.ndarray, **kw) -> np.ndarray:
    return np.array([f(x, t=i / FPS, **kw) for i, x in enumerate(xs)])


def test_reduces_jitter_on_noisy_slow_signal():
    rng = np.random.default_rng(0)
    t = np.arange(300) / FPS
    clean = 50 + 10 * np.sin(2 * np.pi * 0.2 * t)  # slow head motion (pixels)
    noisy = clean + rng.normal(0, 1.5, t.size)
    out = _run(OneEuroFilter(min_cutoff=1.0, beta=0.05), noisy)
    err_in = np.abs(noisy - clean)[30:].mean()
    err_out = np.abs(out - clean)[30:].mean()
    assert err_out < 0.7 * err_in
    # frame-to-frame jitter (second difference) is much smaller
    assert np.abs(np.diff(out[30:], 2)).mean() < 0.3 * np.abs(np.diff(noisy[30:], 2)).mean()
    # the speed term pays: a fixed cutoff (beta = 0) lags the motion more
    fixed = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), noisy)
    assert err_out < np.abs(fixed - clean)[30:].mean()


def test_step_is_followed_with_bounded_lag():
    xs = np.r_[np.zeros(30), np.full(60, 100.0)]
    slow = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), xs)
    fast = _run(OneEuroFilter(min_cutoff=1.0, beta=0.05), xs)
    # no overshoot, monotone
    assert fast.max() <= 100 + 1e-9 and (np.diff(fast) >= -1e-9).all()
    # within 5 % of the step after a few frames; speed adaptation makes it faster than beta = 0
    lag_fast = int(np.argmax(fast[30:] > 95))
    lag_slow = int(np.argmax(slow[30:] > 95))
    assert lag_fast <= 6
    assert lag_fast < lag_slow
    assert abs(fast[-1] - 100) < 1e-3


def test_arrays_shared_speed_and_reset():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 10, (68, 3))
    f = OneEuroFilter(min_cutoff=1.0, beta=1.0, shared_speed=True)
    f(base, 0.0)
    moved = f(base + [5.0, 0.0, 0.0], 1 / FPS, scale=100.0)
    # a rigid translation is filtered uniformly: the shape is not distorted
    np.testing.assert_allclose(
        moved - base, np.broadcast_to(moved[0] - base[0], base.shape), atol=1e-9
    )
    assert 0 < moved[0, 0] - base[0, 0] < 5
    f.reset()
    np.testing.assert_array_equal(f(base + 7, 2.0), base + 7)
    assert f(np.zeros(3)).shape == (3,)  # a new shape restarts the filter


def test_timestamps_and_bad_parameters():
    f = OneEuroFilter(min_cutoff=1.0)
    f(np.array(0.0), 0.0)
    near = float(f(np.array(1.0), 0.01))
    g = OneEuroFilter(min_cutoff=1.0)
    g(np.array(0.0), 0.0)
    far = float(g(np.array(1.0), 1.0))
    assert near < far  # a longer interval lets the filter move further
    with pytest.raises(PRNetError, match="min_cutoff, d_cutoff, freq > 0"):
        OneEuroFilter(min_cutoff=0)
    with pytest.raises(PRNetError, match="beta >= 0"):
        OneEuroFilter(beta=-1)


def test_box_iou_and_matching():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[5, 0, 15, 10], [100, 100, 110, 110], [20, 20, 30, 30]], float)
    iou = box_iou(a, b)
    np.testing.assert_allclose(iou, [[1 / 3, 0, 0], [0, 0, 1]])
    assert _greedy_match(iou, 0.3) == [(1, 2), (0, 0)]
    assert _greedy_match(iou, 0.5) == [(1, 2)]
    assert _greedy_match(np.zeros((0, 3)), 0.3) == []
