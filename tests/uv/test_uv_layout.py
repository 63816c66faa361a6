"""The committed UV layout: injective unwrap, even texel density, consistent tables."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.errors import InputShapeError
from prnet.uv.layout import RES, load_layout, mean_posmap


@pytest.fixture(scope="module")
def layout():
    return load_layout()


def _tri_geometry(layout):
    v = layout.canonical.astype(np.float64)
    t = layout.triangles
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    return a, b, c, np.cross(b - a, c - a)


def test_unwrap_is_injective_no_flipped_triangles(layout):
    """Every grid triangle keeps its orientation on the surface as seen from the unwrap centre."""
    from prnet.uv.build import projection_centre

    kp = layout.canonical_kpt.astype(np.float64) * 1e4
    centre = projection_centre(kp) / 1e4
    a, b, c, n = _tri_geometry(layout)
    facing = np.einsum("ij,ij->i", n, (a + b + c) / 3 - centre)
    assert (facing > 0).all() or (facing < 0).all(), f"{min((facing > 0).sum(), (facing < 0).sum())} flipped"


def test_texel_density_is_even_over_the_face(layout):
    """3D area per grid triangle: no region is starved of texels (95th/5th percentile ratio)."""
    *_, n = _tri_geometry(layout)
    area = 0.5 * np.linalg.norm(n, axis=1)
    fy, fx = np.divmod(layout.face_index[layout.triangles[:, 0]], RES)
    for sel in (np.abs(fx - 128) < 40, np.abs(fx - 128) > 100, fy < 40, fy > 200):
        p5, p50, p95 = np.percentile(area[sel], [5, 50, 95])
        assert p95 / p5 < 6.0
        assert 0.5 < p50 / np.median(area) < 2.0


def test_layout_tables_are_consistent(layout):
    assert layout.face_mask.shape == (RES, RES)
    assert 40_000 < layout.n_vertices < 65_000
    assert layout.canonical.shape == (layout.n_vertices, 3)
    assert layout.triangles.max() < layout.n_vertices
    # barycentric weights sum to one on covered texels
    s = layout.texel_bary.sum(-1)[layout.texel_valid]
    np.testing.assert_allclose(s, 1.0, atol=1e-5)
    # weight mask follows the PRNet ratios 16 : 4 : 3 : 0
    ku = layout.kpt_uv_bfm
    assert set(np.unique(layout.weight_mask)) <= {0.0, 3.0, 4.0, 16.0}
    assert (layout.weight_mask[ku[:, 1], ku[:, 0]] == 16).all()
    assert (layout.weight_mask[layout.region == 1] == 0).all()  # neck
    assert (layout.region == 1).any() and (layout.region == 3).any()


def test_symmetry_map_is_an_involution_on_the_face(layout):
    s = layout.sym_texel.astype(np.int64)
    u, v = np.meshgrid(np.arange(RES), np.arange(RES))
    uu, vv = s[..., 0], s[..., 1]
    back_u, back_v = s[vv, uu, 0], s[vv, uu, 1]
    m = layout.face_mask
    err = np.hypot(back_u - u, back_v - v)[m]
    assert np.median(err) <= 1.0 and np.mean(err <= 2) > 0.97
    # the mirror of the left eye corner (36) is the right eye corner (45)
    k = layout.kpt_uv.astype(np.int64)
    assert np.hypot(*(s[k[36, 1], k[36, 0]] - k[45])) <= 3


def test_landmark_reading_and_mirror(layout):
    pm = mean_posmap(layout)
    kp = layout.landmarks(pm)
    assert kp[8, 1] > kp[30, 1] > kp[19, 1]  # chin below nose below brow (y down)
    assert kp[36, 0] < kp[45, 0]
    m = layout.mirror_posmap(pm, 256)
    mk = layout.landmarks(m)
    # the mirrored mean face is (almost) the mean face itself
    assert np.abs(mk[:, :2] - kp[:, :2]).mean() < 2.0


def test_rebuild_reproduces_the_committed_asset(bfm, tmp_path):
    """scripts/build_uv_layout.py is deterministic: the asset can be regenerated from the BFM."""
    from prnet.uv.build import build_layout

    new = build_layout(bfm)
    old = load_layout()
    np.testing.assert_array_equal(new["face_mask"], old.face_mask)
    np.testing.assert_array_equal(new["kpt_uv"], old.kpt_uv_bfm)
    np.testing.assert_array_equal(new["texel_vid"], old.texel_vid)


def test_posmap_from_mesh_matches_landmark_vertices(bfm, layout):
    """A texel's position interpolates BFM vertices; landmark texels sit on the landmark vertices."""
    v = bfm.mean[None].astype(np.float64)
    pm = layout.posmap_from_mesh(v)[0]
    kp = pm[layout.kpt_uv_bfm[:, 1], layout.kpt_uv_bfm[:, 0]]
    d = np.linalg.norm(kp - bfm.mean[bfm.keypoints], axis=1)
    face_width = np.ptp(bfm.mean[bfm.keypoints][:, 0])
    assert np.median(d) / face_width < 0.01


def test_calibrated_landmark_texels(layout, tmp_path):
    """The committed calibration moves each landmark a few texels at most, inside the face, keeps
    left/right pairs roughly mirror images, and can be switched off or replaced."""
    moved = np.abs(layout.kpt_uv.astype(int) - layout.kpt_uv_bfm).max(1)
    assert moved.max() <= 6 and (moved > 0).sum() > 30
    assert layout.face_mask[layout.kpt_uv[:, 1], layout.kpt_uv[:, 0]].all()
    s = layout.sym_texel.astype(int)
    for a, b in ((0, 16), (36, 45), (48, 54), (17, 26)):
        mirror_of_a = s[layout.kpt_uv[a, 1], layout.kpt_uv[a, 0]]
        assert np.hypot(*(mirror_of_a - layout.kpt_uv[b])) <= 2, (a, b)
    plain = load_layout(landmark_texels="")
    np.testing.assert_array_equal(plain.kpt_uv, layout.kpt_uv_bfm)
    bad = tmp_path / "bad.npz"
    np.savez(bad, kpt_uv=np.zeros((68, 2), np.int16))  # texel (0, 0) is not on the face
    with pytest.raises(InputShapeError, match="68 texels of the face mask"):
        load_layout(landmark_texels=str(bad))
    np.savez(bad, kpt_uv=np.full((68, 2), 300, np.int16))  # off the map
    with pytest.raises(InputShapeError, match="68 texels of the face mask"):
        load_layout(landmark_texels=str(bad))
    with pytest.raises(FileNotFoundError):
        load_layout(landmark_texels=str(tmp_path / "missing.npz"))


def test_loading_the_layout_does_not_import_its_builder():
    """Runtime use of the committed asset needs neither scipy nor the BFM builder."""
    import subprocess
    import sys

    code = ("import sys; from prnet.uv.layout import load_layout; l = load_layout(); l.head_centre; "
            "assert 'prnet.uv.build' not in sys.modules and 'scipy' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('scipy', 'prnet')))")
    subprocess.run([sys.executable, "-c", code], check=True)
