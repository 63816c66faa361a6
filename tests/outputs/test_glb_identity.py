"""The direct GLB writer writes the bytes trimesh wrote (the previous writer, kept as the
reference) apart from its uint16 indices, and the container is well-formed for odd buffer
lengths."""

from __future__ import annotations

import struct

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
    # trimesh embeds the texture at Pillow's default zlib level (6)
    assert glb_bytes(v, tri, uv, tex, short_indices=False, png_level=6) == want
    assert glb_bytes(v.astype(np.float64), tri.astype(np.int32), uv, tex,
                     short_indices=False, png_level=6) == want


def bin_length(glb: bytes) -> int:
    (n_json,) = struct.unpack_from("<I", glb, 12)
    return struct.unpack_from("<I", glb, 20 + n_json)[0]


@pytest.mark.parametrize(("seed", "n", "m", "size"), [
    (1, 7, 1, (5, 3)),          # 6 bytes of uint16 indices: padded to 8
    (2, 1001, 2003, (64, 32)),
    (4, 65535, 3, (4, 4)),      # largest index 65534: still uint16
    (5, 65536, 3, (4, 4)),      # index 65535 is reserved: uint32
])
def test_short_indices_load_as_the_same_mesh(seed, n, m, size):
    import trimesh

    v, tri, uv, tex = random_textured_mesh(seed, n, m, size)
    tri[-1] = n - 1
    short = glb_bytes(v, tri, uv, tex)
    full = glb_bytes(v, tri, uv, tex, short_indices=False)
    saved = 0 if n > 65535 else 12 * m - (6 * m + (-6 * m) % 4)  # uint32 vs padded uint16
    assert bin_length(full) - bin_length(short) == saved
    meshes = [trimesh.load(trimesh.util.wrap_as_stream(d), file_type="glb", force="mesh",
                           process=False) for d in (short, full)]
    np.testing.assert_array_equal(meshes[0].faces, tri)
    np.testing.assert_array_equal(meshes[0].faces, meshes[1].faces)
    np.testing.assert_array_equal(meshes[0].vertices, meshes[1].vertices)
    np.testing.assert_array_equal(meshes[0].visual.uv, meshes[1].visual.uv)
