"""Tests for prnet.geometry.pose and prnet.geometry.frontalize."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from prnet.errors import InputShapeError, PRNetError
from prnet.geometry.frontalize import frontalize
from prnet.geometry.pose import (
    Pose,
    PoseTemplate,
    angles_to_matrix,
    estimate_pose,
    matrix_to_angles,
    similarity_fit,
)

FLIP_Y = np.array([1.0, -1.0, 1.0])


def _cloud(rng: np.random.Generator, n: int = 200) -> np.ndarray:
    """A face-sized, roughly face-shaped canonical cloud (y up, bulging towards +z)."""
    pts = rng.normal(size=(n, 3)) * [60.0, 80.0, 30.0]
    pts[0] = [0.0, 0.0, 90.0]  # "nose tip"
    return pts


def _pose_points(
    canonical: np.ndarray,
    pitch: float,
    yaw: float,
    roll: float,
    s: float = 1.0,
    t: tuple[float, float, float] = (0, 0, 0),
) -> np.ndarray:
    """Canonical → image coordinates (y down) with the AFLW convention."""
    rot = angles_to_matrix(*np.radians([pitch, yaw, roll]))
    return (s * canonical @ rot.T + np.asarray(t)) * FLIP_Y


def test_elementary_matrices_match_aflw_definition() -> None:
    a = 0.3
    c, s = np.cos(a), np.sin(a)
    np.testing.assert_allclose(angles_to_matrix(a, 0, 0), [[1, 0, 0], [0, c, s], [0, -s, c]])
    np.testing.assert_allclose(angles_to_matrix(0, a, 0), [[c, 0, -s], [0, 1, 0], [s, 0, c]])
    np.testing.assert_allclose(angles_to_matrix(0, 0, a), [[c, s, 0], [-s, c, 0], [0, 0, 1]])
    p, y, r = 0.2, -0.7, 1.1
    np.testing.assert_allclose(
        angles_to_matrix(p, y, r),
        angles_to_matrix(p, 0, 0) @ angles_to_matrix(0, y, 0) @ angles_to_matrix(0, 0, r),
        atol=1e-12,
    )


def test_angles_round_trip_and_batch() -> None:
    rng = np.random.default_rng(0)
    ang = np.stack(
        [
            rng.uniform(-np.pi, np.pi, 500),
            rng.uniform(-1.5, 1.5, 500),
            rng.uniform(-np.pi, np.pi, 500),
        ],
        axis=1,
    )
    mats = angles_to_matrix(ang[:, 0], ang[:, 1], ang[:, 2])
    assert mats.shape == (500, 3, 3)
    eye = np.broadcast_to(np.eye(3), mats.shape)
    np.testing.assert_allclose(mats @ mats.transpose(0, 2, 1), eye, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(mats), 1.0)
    back = np.array([matrix_to_angles(m) for m in mats])
    np.testing.assert_allclose(back, ang, atol=1e-9)


@pytest.mark.parametrize("yaw_deg", [90.0, -90.0])
def test_gimbal_lock_is_graceful(yaw_deg: float) -> None:
    rot = angles_to_matrix(0.4, np.radians(yaw_deg), -0.3)
    pitch, yaw, roll = matrix_to_angles(rot)
    assert roll == 0.0 and np.isfinite(pitch)
    assert yaw == pytest.approx(np.radians(yaw_deg))
    np.testing.assert_allclose(angles_to_matrix(pitch, yaw, roll), rot, atol=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_estimate_pose_recovers_angles(seed: int) -> None:
    rng = np.random.default_rng(seed)
    canonical = _cloud(rng)
    pitch, yaw, roll = rng.uniform(-80, 80, size=3)
    s = rng.uniform(0.5, 3.0)
    t = rng.uniform(-300, 300, size=3)
    obs = _pose_points(canonical, pitch, yaw, roll, s, t)
    obs += rng.normal(scale=0.5, size=obs.shape)  # ~0.5 px noise
    pose = estimate_pose(obs, canonical)
    assert abs(pose.pitch - pitch) < 0.5 and abs(pose.yaw - yaw) < 0.5
    assert abs(pose.roll - roll) < 0.5
    assert pose.scale == pytest.approx(s, rel=1e-2)
    np.testing.assert_allclose(pose.angles_deg, [pose.pitch, pose.yaw, pose.roll])
    assert pose.camera_matrix.shape == (3, 4)
    np.testing.assert_allclose(pose.camera_matrix[:, :3], pose.scale * pose.rotation)
    np.testing.assert_allclose(pose.project(canonical), obs, atol=3.0)


def test_sign_conventions() -> None:
    canonical = _cloud(np.random.default_rng(1))
    centre = canonical.mean(axis=0)
    right = np.array([[50.0, 0, 0]])  # the face's left = image right when frontal
    pts = np.vstack([canonical, centre, right])
    # yaw > 0: nose goes to image-left
    img = _pose_points(pts, 0, 30, 0)
    assert img[0, 0] < img[-2, 0]
    assert estimate_pose(img, pts).yaw == pytest.approx(30.0)
    # pitch > 0: nose goes up in the image (smaller y)
    img = _pose_points(pts, 30, 0, 0)
    assert img[0, 1] < img[-2, 1]
    # roll > 0: the image-right side drops (larger y), i.e. clockwise on screen
    img = _pose_points(pts, 0, 0, 20)
    assert img[-1, 1] > img[-2, 1]
    assert estimate_pose(img, pts).roll == pytest.approx(20.0)


def test_weights_ignore_outliers() -> None:
    rng = np.random.default_rng(2)
    canonical = _cloud(rng, 100)
    obs = _pose_points(canonical, 10, -40, 5, 2.0, (200, 200, 0))
    obs[:10] += rng.normal(scale=80.0, size=(10, 3))
    weights = np.ones(100)
    weights[:10] = 0.0
    good = estimate_pose(obs, canonical, weights)
    bad = estimate_pose(obs, canonical)
    np.testing.assert_allclose(good.angles_deg, [10, -40, 5], atol=1e-6)
    assert np.abs(bad.angles_deg - [10, -40, 5]).max() > 0.5


def test_similarity_fit_never_reflects() -> None:
    rng = np.random.default_rng(3)
    src = rng.normal(size=(50, 3))
    for dst in (src * [-1, 1, 1], src * [1, 1, -1], -src):
        s, rot, _ = similarity_fit(src, dst)
        assert np.linalg.det(rot) == pytest.approx(1.0)
        assert s > 0


def test_similarity_fit_exact_and_rigid() -> None:
    rng = np.random.default_rng(4)
    src = rng.normal(size=(30, 3))
    rot = angles_to_matrix(0.3, -0.9, 2.0)
    dst = 1.7 * src @ rot.T + [1.0, -2.0, 3.0]
    s, r, t = similarity_fit(src, dst)
    assert s == pytest.approx(1.7)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-10)
    s_rigid, r_rigid, _ = similarity_fit(src, src @ rot.T, with_scale=False)
    assert s_rigid == 1.0
    np.testing.assert_allclose(r_rigid, rot, atol=1e-10)


def test_bad_inputs() -> None:
    pts = np.zeros((5, 3))
    with pytest.raises(InputShapeError, match=r"expected shape \(N, 3\)"):
        similarity_fit(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(InputShapeError, match="like src"):
        similarity_fit(np.ones((5, 3)), np.ones((4, 3)))
    with pytest.raises(PRNetError, match="single point"):
        similarity_fit(pts, pts)
    with pytest.raises(PRNetError, match="weights"):
        similarity_fit(np.eye(3), np.eye(3), weights=[-1, 1, 1])
    with pytest.raises(InputShapeError):
        matrix_to_angles(np.eye(4))


def test_pose_is_frozen() -> None:
    canonical = _cloud(np.random.default_rng(5))
    pose = estimate_pose(_pose_points(canonical, 5, 5, 5), canonical)
    assert isinstance(pose, Pose)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pose.yaw = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        pose.rotation[0, 0] = 2.0


def test_frontalize_posed_canonical_returns_canonical() -> None:
    canonical = _cloud(np.random.default_rng(6))
    obs = _pose_points(canonical, -25, 70, 15, 2.5, (225, -225, 40))
    np.testing.assert_allclose(frontalize(obs, canonical), canonical, atol=1e-8)


def test_frontalize_keeps_own_shape() -> None:
    rng = np.random.default_rng(7)
    canonical = _cloud(rng)
    shape = canonical.copy()
    shape[:, 2] *= 1.0 + 0.1 * (shape[:, 1] > 0)  # a different face: deeper upper half
    obs = _pose_points(shape, 30, -50, 10, 1.8, (100, 50, 0))
    front = frontalize(obs, canonical)
    s, rot, t = similarity_fit(shape, front)  # the same shape, only re-aligned
    np.testing.assert_allclose(s * shape @ rot.T + t, front, atol=1e-8)
    assert abs(np.degrees(matrix_to_angles(rot))).max() < 5.0  # faces straight ahead


def _load_dev(aflw_dev: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io as sio  # a dependency of prnet

    with (aflw_dev / "index.csv").open() as fh:
        names = [row["image"] for row in csv.DictReader(fh)]
    step = max(1, len(names) // limit)
    mats = [sio.loadmat(aflw_dev / n.replace(".jpg", ".mat")) for n in names[::step]]
    poses = np.array([m["Pose_Para"][0] for m in mats])
    lmks = np.array([m["pt3d_68"].T for m in mats])
    return poses, lmks


@pytest.mark.shared
def test_convention_matches_aflw2000_3d(shared_dir) -> None:
    """A canonical 68-point set built from near-frontal images (de-rotated with their
    Pose_Para) gives, on all other images, angles close to Pose_Para: the rotation order,
    matrices, y flip and signs are AFLW's. Physical check: yaw > 0 puts the nose tip
    (landmark 30) left of the jaw centre (0..16) in the image."""
    poses, lmks = _load_dev(shared_dir / "data" / "aflw2000-3d-dev", 100)
    deg = np.degrees(poses[:, :3])
    frontal = np.flatnonzero(np.abs(deg[:, 1]) < 10)[:10]
    assert frontal.size >= 5
    canon = []
    for i in frontal:
        up = lmks[i] * FLIP_Y
        up -= up.mean(axis=0)
        canon.append(up @ angles_to_matrix(*poses[i, :3]) / poses[i, 6])
    canonical = np.mean(canon, axis=0)
    est = np.array([estimate_pose(lm, canonical).angles_deg for lm in lmks])
    err = np.abs((est - deg + 180) % 360 - 180)
    assert np.median(err, axis=0).max() < 2.0
    turned = np.abs(deg[:, 1]) > 15
    nose_dx = lmks[:, 30, 0] - lmks[:, :17, 0].mean(axis=1)
    assert np.all(np.sign(deg[turned, 1]) == -np.sign(nose_dx[turned]))
    assert np.all(np.sign(est[turned, 1]) == np.sign(deg[turned, 1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pose_template_matches_estimate_pose(seed: int) -> None:
    """The prepared template gives estimate_pose's fit (noisy points, any pose and offset)."""
    rng = np.random.default_rng(seed)
    can = _cloud(rng, 500) + [5.0, -3.0, 2.0]  # not centred
    angles = rng.uniform(-70, 70, 3)
    img = _pose_points(can, *np.radians(angles), s=1.7, t=(300, -200, 40))
    img += rng.normal(scale=2.0, size=img.shape)
    want, got = estimate_pose(img, can), PoseTemplate.of(can).fit(img.astype(np.float32))
    for k in ("yaw", "pitch", "roll", "scale"):
        assert getattr(got, k) == pytest.approx(getattr(want, k), abs=1e-6), k
    np.testing.assert_allclose(got.camera_matrix, want.camera_matrix, atol=1e-6)


def test_pose_template_bad_inputs() -> None:
    tpl = PoseTemplate.of(_cloud(np.random.default_rng(0), 10))
    with pytest.raises(InputShapeError, match=r"expected shape \(10, 3\)"):
        tpl.fit(np.zeros((9, 3)))
    bad = np.ones((10, 3))
    bad[3, 1] = np.nan
    with pytest.raises(PRNetError, match="NaN or inf"):
        tpl.fit(bad)
    with pytest.raises(PRNetError, match="single point"):
        PoseTemplate.of(np.ones((5, 3)))


def test_face_pose_is_the_full_fit(prn, sample_image_path) -> None:
    """FaceResult.pose (through the layout's template) equals estimate_pose on all vertices."""
    from prnet.io import read_image

    face = prn.reconstruct(read_image(sample_image_path))[0]
    want = estimate_pose(face.vertices, face.layout.canonical)
    assert face.pose.angles_deg == pytest.approx(want.angles_deg, abs=1e-6)


def test_layout_pose_ignores_what_lies_off_the_face(prn, sample_image_path) -> None:
    """UVLayout.pose (one product over the map) is the vertex fit, also when texels off the
    face hold NaN, and raises like it when the face itself does."""
    from prnet.io import read_image

    face = prn.reconstruct(read_image(sample_image_path))[0]
    layout, pm = face.layout, face.posmap.copy()
    want = layout.pose_template.fit(layout.vertices(pm))
    assert layout.pose(pm).angles_deg == pytest.approx(want.angles_deg, abs=1e-9)
    off = np.ones(256 * 256, bool)
    off[layout.face_index] = False
    pm.reshape(-1, 3)[off] = np.nan
    assert layout.pose(pm).angles_deg == pytest.approx(want.angles_deg, abs=1e-9)
    pm.reshape(-1, 3)[layout.face_index[0]] = np.nan
    with pytest.raises(PRNetError, match="NaN"):
        layout.pose(pm)
