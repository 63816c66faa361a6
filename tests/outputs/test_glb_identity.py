"""The direct GLB writer writes the bytes trimesh wrote (the previous writer, kept as the
reference), and the container is well-formed for odd buffer lengths."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.outputs.glb import glb_bytes, trimesh_glb_bytes

pytest.importorskip("trimesh")


def random_textured_mesh(seed: int, n: int, m: int, size: tuple[int, int]):
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 300, (n, 3)).astype(np.float32)
    v[0] = -0.0
    tri = rng.integers(0, n, (m, 3))
    uv = rng.uniform(-0.5, max(size) - 0.5, (n, 2))
    tex = rng.integers(0, 256, size + (3,), dtype=np.uint8)
    return v, tri, uv, tex


@pytest.mark.parametrize(("seed", "n", "m", "size"), [
    (0, 50, 61, (16, 16)),
    (1, 7, 1, (5, 3)),      # odd lengths: padding of every buffer
    (2, 1001, 2003, (64, 32)),
    (3, 3, 5, (1, 1)),
])
def test_glb_identical_to_trimesh(seed, n, m, size):
    v, tri, uv, tex = random_textured_mesh(seed, n, m, size)
    want = trimesh_glb_bytes(v, tri, uv, tex)
    assert glb_bytes(v, tri, uv, tex) == want
    assert glb_bytes(v.astype(np.float64), tri.astype(np.int32), uv, tex) == want
