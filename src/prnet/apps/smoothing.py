"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012), vectorised over arrays.

A low-pass filter whose cutoff frequency rises with the signal's speed: slow signals are
smoothed hard (little jitter), fast ones lightly (little lag)::

    cutoff = min_cutoff + beta · |speed|,   alpha = 1 / (1 + 1 / (2π · cutoff · dt))
    x̂ₜ = alpha · xₜ + (1 − alpha) · x̂ₜ₋₁

where the speed is itself low-passed at ``d_cutoff``. With ``shared_speed`` one speed (the RMS
over all elements) drives every element, so a rigid motion of a whole landmark set is filtered
uniformly and the shape is not distorted while it moves.
"""

from __future__ import annotations

import math

import numpy as np

from prnet.errors import PRNetError

__all__ = ["OneEuroFilter"]


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of any shape (one independent filter per element).

    Args:
        min_cutoff: cutoff frequency (Hz) at rest; lower = smoother when still.
        beta: cutoff increase per unit of speed (signal units per second, divided by
            ``scale``); higher = less lag when moving.
        d_cutoff: cutoff frequency (Hz) of the speed estimate.
        freq: sampling rate (Hz) used when no timestamps are given.
        shared_speed: drive all elements with one speed, the RMS of theirs.

    Raises:
        PRNetError: non-positive frequencies or a negative ``beta``.

    Example:
        >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.1, freq=30)
        >>> [round(float(f(np.array(v))), 3) for v in (0.0, 1.0, 1.0)]
        [0.0, 0.241, 0.451]
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        freq: float = 30.0,
        shared_speed: bool = False,
    ) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or freq <= 0 or beta < 0:
            raise PRNetError(
                "OneEuroFilter needs min_cutoff, d_cutoff, freq > 0 and beta >= 0, got "
                f"{min_cutoff}, {d_cutoff}, {freq}, {beta}"
            )
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.freq = float(freq)
        self.shared_speed = shared_speed
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float | None = None, scale: float = 1.0) -> np.ndarray:
        """Filter one sample.

        Args:
            x: the sample (same shape every call; a new shape resets the filter).
            t: its timestamp in seconds (default: previous + 1 / freq).
            scale: signal units per "unit" of speed for ``beta`` (e.g. the face size in
                pixels, so that ``beta`` does not depend on the image resolution).

        Returns:
            The filtered sample, float64, same shape as ``x``.
        """
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            self._t = t
            return x.copy()
        dt = 1.0 / self.freq
        if t is not None and self._t is not None and t > self._t:
            dt = t - self._t
        self._t = t if t is not None else (self._t + dt if self._t is not None else None)
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        if self.shared_speed:
            speed = float(np.sqrt(np.mean(self._dx**2))) / scale
        else:
            speed = np.abs(self._dx) / scale
        a = _alpha(self.min_cutoff + self.beta * speed, dt)
        self._x = self._x + a * (x - self._x)
        return self._x.copy()
