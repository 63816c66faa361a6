"""The torch post-network stages (the GPU path) give the NumPy path's numbers on the CPU device:
uncrop, landmarks, pose (batched SVD) and dense vertices, on the bundled photo's real network
output and on synthetic position maps with known poses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prnet.geometry.crop import crop_matrix, crop_points
from prnet.geometry.pose import angles_to_matrix, estimate_pose, matrix_to_angles
from prnet.io import read_image
from prnet.pipeline.device_post import (
    DevicePost,
    estimate_poses_torch,
    matrix_to_angles_torch,
    uncrop_maps_torch,
)
from prnet.pipeline.posmaps import crop_faces, uncrop_maps
from prnet.uv.layout import load_layout

LANDMARK_PX = 1e-3
ANGLE_DEG = 1e-3
CAMERA_REL = 1e-5


def numpy_path(maps: np.ndarray, matrices: np.ndarray, views: int, layout):
    """The CPU stages: uncrop_maps, layout.landmarks, FaceResult.pose's estimate_pose."""
    posmaps = uncrop_maps(maps, matrices, views)
    poses = [estimate_pose(layout.vertices(p), layout.canonical) for p in posmaps]
    return posmaps, layout.landmarks(posmaps), poses


def assert_same(out, ref_posmaps, ref_kpt, ref_poses, layout) -> None:
    np.testing.assert_allclose(out.posmaps.numpy(), ref_posmaps, rtol=1e-6, atol=LANDMARK_PX)
    np.testing.assert_allclose(out.landmarks.numpy(), ref_kpt, rtol=0, atol=LANDMARK_PX)
    for i, p in enumerate(ref_poses):
        np.testing.assert_allclose(out.poses.angles_deg[i].numpy(), p.angles_deg, rtol=0,
                                   atol=ANGLE_DEG)
        cam = out.poses.camera_matrix[i].numpy()
        assert np.abs(cam - p.camera_matrix).max() <= CAMERA_REL * np.abs(p.camera_matrix).max()
        assert out.poses.scale[i].item() == pytest.approx(p.scale, rel=CAMERA_REL)
    assert out.finite.all()
    if out.vertices is not None:
        np.testing.assert_allclose(out.vertices.numpy(), layout.vertices(ref_posmaps), atol=LANDMARK_PX)


@pytest.fixture(scope="module")
def photo_output(prn, sample_image_path):
    """The bundled photo's real network output: the centre crop and the 5 shifted views."""
    img = read_image(sample_image_path)
    mats = [p.crop_matrix for p in prn.plan(prn.detect(img))]
    out = {}
    for tta in ("off", "shift"):
        batch = crop_faces(img, mats, tta)
        out[tta] = (prn.predict_crops(batch.crops), batch.matrices, batch.views)
    return out


@pytest.mark.parametrize("tta", ["off", "shift"])
def test_real_output_matches_numpy_path(prn, photo_output, tta):
    maps, mats, views = photo_output[tta]
    ref = numpy_path(maps, mats, views, prn.layout)
    out = DevicePost(prn.layout)(torch.from_numpy(maps), mats, views, dense=True)
    assert_same(out, *ref, prn.layout)
    assert out.landmarks.dtype == torch.float32  # fp32 against the float64 NumPy path


def test_rows_round_as_face_record(prn, photo_output, sample_image_path):
    maps, mats, views = photo_output["off"]
    face = prn.reconstruct(sample_image_path)[0]
    row = DevicePost(prn.layout)(torch.from_numpy(maps), mats, views).rows()[0]
    record = face.to_dict()
    assert np.abs(np.asarray(row["landmarks"]) - record["landmarks"]).max() <= 0.01 + 1e-9
    for k in ("yaw", "pitch", "roll"):
        assert row[k] == pytest.approx(record["pose"][k], abs=1e-3 + 1e-9)
    cam = np.asarray(record["pose"]["camera_matrix"])
    np.testing.assert_allclose(row["camera_matrix"], cam, rtol=0,
                               atol=CAMERA_REL * np.abs(cam).max() + 1e-6)
    assert row["finite"] is True


def synthetic(layout, angles_deg, width, centre, side, angle):
    """A crop-space map of the canonical face posed by (pitch, yaw, roll), ``width`` px wide,
    placed in the image at ``centre`` and cropped by a similarity of ``side`` px rotated by
    ``angle``."""
    rot = angles_to_matrix(*np.radians(angles_deg))
    scale = width / np.ptp(layout.canonical_kpt[:, 0])
    pts = layout.canonical_map.astype(np.float64) @ rot.T * scale
    img = pts * [1, -1, 1] + [centre[0], centre[1], 0]
    m = crop_matrix(np.asarray(centre) + [3.0, -5.0], side, angle_deg=angle)
    return crop_points(img, m), m


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_synthetic_posmaps_match_numpy_path(dtype):
    layout = load_layout()
    cases = [((0, 0, 0), 250.0, (300, 280), 400.0, 0.0),
             ((-12, 35, 8), 700.0, (1500, 900), 1100.0, 10.0),
             ((20, -70, -15), 100.0, (120, 140), 170.0, -25.0),
             ((5, 89.5, 3), 320.0, (640, 480), 520.0, 0.0)]
    made = [synthetic(layout, *c) for c in cases]
    maps = np.stack([m for m, _ in made]).astype(np.float32)
    mats = np.stack([m for _, m in made])
    ref = numpy_path(maps, mats, 1, layout)
    out = DevicePost(layout, dtype=dtype)(torch.from_numpy(maps), mats, dense=True)
    assert_same(out, *ref, layout)
    # the (F, N, 3) entry point fits the same poses as DevicePost's (F, 3, N) one
    lay = DevicePost(layout, dtype=dtype).layout
    flat = estimate_poses_torch(lay.vertices(out.posmaps), lay)
    tol = 1e-9 if dtype == torch.float64 else 1e-5  # fp32 sums in another order
    cam = out.poses.camera_matrix
    torch.testing.assert_close(flat.camera_matrix, cam, rtol=0, atol=tol * cam.abs().max().item())
    # the poses put into the maps come back
    got = out.poses.angles_deg.numpy()
    np.testing.assert_allclose(got[:3], np.array([c[0] for c in cases[:3]]), atol=1e-2)


def test_uncrop_float64_equals_numpy_to_rounding():
    rng = np.random.default_rng(0)
    maps = rng.uniform(0, 255, (6, 256, 256, 3)).astype(np.float32)
    mats = np.stack([crop_matrix(rng.uniform(50, 900, 2), rng.uniform(60, 700),
                                 angle_deg=rng.uniform(-40, 40)) for _ in range(6)])
    ref = uncrop_maps(maps, mats, views=2)
    got = uncrop_maps_torch(torch.from_numpy(maps), torch.from_numpy(mats), 2, torch.float64)
    assert got.shape == ref.shape == (3, 256, 256, 3)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-6, atol=1e-4)


def test_angles_match_including_gimbal_lock():
    rng = np.random.default_rng(1)
    ang = np.radians(np.c_[rng.uniform(-170, 170, 50), rng.uniform(-89, 89, 50),
                           rng.uniform(-170, 170, 50)])
    ang = np.r_[ang, [[0.3, np.pi / 2, 0.2], [-0.5, -np.pi / 2, 0.1]]]
    rots = angles_to_matrix(ang[:, 0], ang[:, 1], ang[:, 2])
    got = matrix_to_angles_torch(torch.from_numpy(rots)).numpy()
    ref = np.array([matrix_to_angles(r) for r in rots])
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_non_finite_face_is_flagged_and_others_kept(prn, photo_output):
    maps, mats, _ = photo_output["off"]
    two = np.concatenate([maps, maps])
    two[1, 10, 10, 0] = np.nan
    out = DevicePost(prn.layout)(torch.from_numpy(two), np.concatenate([mats, mats]))
    assert out.finite.tolist() == [True, False]
    ref = numpy_path(maps, mats, 1, prn.layout)
    np.testing.assert_allclose(out.landmarks[0].numpy(), ref[1][0], atol=LANDMARK_PX)
    assert np.isfinite(out.poses.angles_deg[0].numpy()).all()


def test_no_faces():
    layout = load_layout()
    out = DevicePost(layout)(torch.zeros(0, 256, 256, 3), np.zeros((0, 2, 3)))
    assert out.landmarks.shape == (0, 68, 3) and out.poses.angles_deg.shape == (0, 3)
    assert out.rows() == []


def test_plausible_flag_follows_check_posmaps(prn, photo_output):
    """Each face flagged implausible on the device is one that ``check_posmaps`` (the NumPy
    path's uncrop) rejects, and the real face passes both."""
    from prnet.errors import ReconstructionError
    from prnet.validation import check_posmaps

    maps, mats, _ = photo_output["off"]
    centre = maps[0].reshape(-1, 3).mean(0)
    cases = {"real": maps[0], "collapsed": np.broadcast_to(centre, maps[0].shape),
             "huge": (maps[0] - centre) * 6 + centre, "off crop": maps[0] + [700.0, 0.0, 0.0]}
    batch = np.stack(list(cases.values())).astype(np.float32)
    mm = np.repeat(mats, len(cases), 0)
    out = DevicePost(prn.layout)(torch.from_numpy(batch), mm)
    posmaps = uncrop_maps(batch, mm)
    for i, name in enumerate(cases):
        try:
            check_posmaps(posmaps[i : i + 1], mm[i : i + 1], prn.layout)
            accepted = True
        except ReconstructionError:
            accepted = False
        assert bool(out.plausible[i]) is accepted is (name == "real"), name
    assert [r["plausible"] for r in out.rows()] == [True, False, False, False]
