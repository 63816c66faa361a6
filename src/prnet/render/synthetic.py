"""A synthetic face-sized mesh for tests and timings of the renderer (no weights, no data)."""

from __future__ import annotations

import numpy as np


def grid_mesh(n: int, offset: float = 28.0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """An n x n vertex grid on an ellipsoid cap: ((n*n, 3) float32, (2(n-1)^2, 3) int32)."""
    g = np.arange(n, dtype=np.float32)
    yy, xx = np.meshgrid(g, g, indexing="ij")
    c = (n - 1) / 2.0
    r2 = ((xx - c) ** 2 + (yy - c) ** 2) / (c * c)
    zz = 0.6 * c * np.sqrt(np.clip(1.5 - r2, 0.0, None))
    v = np.stack([xx * scale + offset, yy * scale + offset, zz * scale], -1).reshape(-1, 3)
    idx = np.arange(n * n).reshape(n, n)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    cc, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    tri = np.concatenate([np.stack([a, b, cc], 1), np.stack([b, d, cc], 1)]).astype(np.int32)
    return v.astype(np.float32), tri
