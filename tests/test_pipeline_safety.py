"""Safety net of the public PRN pipeline: what reaches the network, mirror symmetry, the sign of
yaw on turned faces, batch-size invariance, and test-time augmentation through every front end
(``PRN.reconstruct``, :class:`prnet.apps.FaceTracker`, :func:`prnet.eval.bench.bench_pipeline`).

Only the public API is used (``prn.net`` is the torch module the pipeline runs), so these tests
hold across refactors of the pipeline's internals.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from prnet import PRN
from prnet.geometry.crop import warp_crop
from prnet.io import read_image

#: The iBUG 68-point left/right permutation: point i of a face is point MIRROR_68[i] of its
#: mirror image.
MIRROR_68 = np.array(
    list(range(16, -1, -1))                               # jaw 0..16: 0↔16, 1↔15, …, 8
    + list(range(26, 16, -1))                             # brows: 17↔26, 18↔25, …, 21↔22
    + [27, 28, 29, 30]                                    # nose bridge: on the symmetry axis
    + [35, 34, 33, 32, 31]                                # nostrils: 31↔35, 32↔34, 33
    + [45, 44, 43, 42, 47, 46]                            # right eye 36..41 ↔ left eye 42..47:
    + [39, 38, 37, 36, 41, 40]                            #   36↔45, 37↔44, 38↔43, 39↔42, 40↔47, 41↔46
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]    # outer lips: 48↔54, …, 51, 55↔59, …, 57
    + [64, 63, 62, 61, 60, 67, 66, 65]                    # inner lips: 60↔64, 61↔63, 62, 65↔67, 66
)

PASSES = {"off": 1, "flip": 2, "shift": 10}  # network passes per crop of each TTA mode


def test_mirror_permutation_is_an_involution():
    assert sorted(MIRROR_68.tolist()) == list(range(68))
    np.testing.assert_array_equal(MIRROR_68[MIRROR_68], np.arange(68))
    assert set(np.flatnonzero(MIRROR_68 == np.arange(68))) == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}


class NetSpy:
    """Forward pre-hook on ``prn.net``: records every input batch the network gets."""

    def __init__(self, prn: PRN) -> None:
        self.inputs: list[torch.Tensor] = []
        self._h = prn.net.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        self.inputs.append(args[0].detach().clone())

    @property
    def passes(self) -> int:
        """Network passes, counted per crop (batch elements), whatever the batching."""
        return sum(int(x.shape[0]) for x in self.inputs)

    def clear(self) -> None:
        self.inputs.clear()

    def remove(self) -> None:
        self._h.remove()


@pytest.fixture
def spy(prn):
    s = NetSpy(prn)
    yield s
    s.remove()


@pytest.fixture(scope="module")
def astro(sample_image_path) -> np.ndarray:
    return read_image(sample_image_path)


# --------------------------------------------------------------------------- network input


def test_network_input_is_rgb_unit_float_nchw(prn, astro, spy):
    """The network gets float32 NCHW in [0, 1] = uint8 RGB crop / 255 (the layout the bundled
    weights were trained on); a BGR or 0..255 input would still "work", only worse."""
    (face,) = prn.reconstruct(astro)
    assert len(spy.inputs) == 1
    x = spy.inputs[0]
    assert x.dtype == torch.float32 and x.ndim == 4 and tuple(x.shape) == (1, 3, 256, 256)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    v = x[0].permute(1, 2, 0).numpy().astype(np.float64)  # HWC
    np.testing.assert_allclose(v * 255, np.round(v * 255), atol=1e-3)  # uint8 / 255
    crop = warp_crop(astro, face.crop_matrix)  # the RGB crop, computed here
    np.testing.assert_array_equal(np.round(v * 255).astype(np.uint8), crop)
    # the check can tell RGB from BGR: the crop's red and blue channels differ
    assert np.abs(crop[..., 0].astype(int) - crop[..., 2].astype(int)).mean() > 10
    r, b = v[..., 0].mean(), v[..., 2].mean()
    assert r > b  # skin and the orange suit: more red than blue


# --------------------------------------------------------------------------- mirror symmetry


def _mirrored(landmarks: np.ndarray, width: int) -> np.ndarray:
    """Landmarks of a face in the mirrored image → the same face's landmarks in the original:
    x' = W − 1 − x, and left/right points swapped."""
    m = landmarks[MIRROR_68].copy()
    m[:, 0] = width - 1 - m[:, 0]
    return m


def test_mirror_image_mirrors_landmarks_and_pose(prn, astro):
    """The flipped photo gives the mirrored landmarks (left/right swapped), yaw and roll of the
    opposite sign and the same pitch. Measured: landmark gap mean 0.84 px, max 2.0 px (the
    detector boxes of the two images differ slightly); yaw 0.41 / −1.07°, roll 2.29 / −2.49°,
    pitch −9.08 / −9.29°."""
    (a,) = prn.reconstruct(astro)
    (b,) = prn.reconstruct(np.ascontiguousarray(astro[:, ::-1]))
    w = astro.shape[1]
    back = _mirrored(b.landmarks, w)
    d = np.linalg.norm(back[:, :2] - a.landmarks[:, :2], axis=1)
    assert d.mean() < 1.2 and d.max() < 3.0, (d.mean(), d.max())
    # without the left/right permutation the points would be a face-width off
    plain = b.landmarks.copy()
    plain[:, 0] = w - 1 - plain[:, 0]
    assert np.linalg.norm(plain[:, :2] - a.landmarks[:, :2], axis=1).mean() > 10
    assert abs(a.pose.yaw + b.pose.yaw) < 3.0
    assert abs(a.pose.roll + b.pose.roll) < 3.0
    assert abs(a.pose.roll) > 1.0  # the photo's roll (2.3°) is what the sign check sees
    assert abs(a.pose.pitch - b.pose.pitch) < 2.0


def _turned_dev_faces(dev: Path, per_sign: int = 3) -> list[tuple[str, float, np.ndarray]]:
    """(name, GT yaw in degrees, (68, 2) GT landmarks) of the first dev images (by name) with
    40° ≤ |yaw| ≤ 75°, ``per_sign`` turned each way."""
    import scipy.io as sio

    with (dev / "index.csv").open() as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["image"])
    out: dict[int, list] = {1: [], -1: []}
    for r in rows:
        if not 40 <= float(r["abs_yaw_deg"]) <= 75:
            continue
        mat = sio.loadmat(dev / r["image"].replace(".jpg", ".mat"))
        yaw = float(np.degrees(mat["Pose_Para"][0, 1]))  # Pose_Para = [pitch, yaw, roll] (rad), …
        sign = int(np.sign(yaw))
        if len(out[sign]) < per_sign:
            out[sign].append((r["image"], yaw, mat["pt3d_68"][:2].T))
        if all(len(v) == per_sign for v in out.values()):
            break
    return out[1] + out[-1]


@pytest.mark.shared
def test_yaw_sign_follows_aflw2000_convention(prn, shared_dir):
    """prnet's yaw has AFLW2000-3D's sign (Pose_Para): on faces turned 40–75° either way the
    signs agree, and (the convention, physically) yaw > 0 puts the nose tip on the image left
    of the jaw's centre. The crop comes from the GT landmarks, so the detector plays no part."""
    dev = shared_dir / "data" / "aflw2000-3d-dev"
    faces = _turned_dev_faces(dev)
    assert len(faces) == 6
    for name, gt_yaw, gt68 in faces:
        img = read_image(dev / name)
        (f,) = prn.reconstruct(img, landmarks=[gt68])
        assert np.sign(f.pose.yaw) == np.sign(gt_yaw), (name, f.pose.yaw, gt_yaw)
        assert abs(f.pose.yaw) > 20, (name, f.pose.yaw, gt_yaw)
        k = f.landmarks
        nose_dx = k[30, 0] - k[:17, 0].mean()
        assert np.sign(nose_dx) == -np.sign(f.pose.yaw), (name, nose_dx, f.pose.yaw)
        # and its mirror image turns the other way
        (m,) = prn.reconstruct(np.ascontiguousarray(img[:, ::-1]),
                               landmarks=[np.c_[img.shape[1] - 1 - gt68[:, 0], gt68[:, 1]]])
        assert np.sign(m.pose.yaw) == -np.sign(gt_yaw), (name, m.pose.yaw, gt_yaw)


# --------------------------------------------------------------------------- batching


@pytest.fixture(scope="module")
def group_photo(astro) -> np.ndarray:
    """A 1024² canvas with four astronauts: full size, 3/4, 3/5 and mirrored."""
    canvas = np.full((1024, 1024, 3), 90, np.uint8)
    canvas[:512, :512] = astro
    small = cv2.resize(astro, (384, 384), interpolation=cv2.INTER_AREA)
    canvas[40:424, 580:964] = small
    smaller = cv2.resize(astro, (307, 307), interpolation=cv2.INTER_AREA)
    canvas[600:907, 60:367] = smaller
    canvas[512:, 512:] = astro[:, ::-1]
    return canvas


def test_batch_size_does_not_change_results(group_photo):
    """Faces batched 4 per network pass get the landmarks they get one at a time (a mix-up of
    faces and position maps within a batch would move whole faces)."""
    one, four = PRN(device="cpu", backend="torch", batch_size=1), PRN(device="cpu", backend="torch", batch_size=4)
    spy1, spy4 = NetSpy(one), NetSpy(four)
    try:
        a, b = one.reconstruct(group_photo), four.reconstruct(group_photo)
    finally:
        spy1.remove()
        spy4.remove()
    assert len(a) == len(b) >= 3
    assert [len(x) for x in spy1.inputs] == [1] * len(a)
    assert [len(x) for x in spy4.inputs] == [min(4, len(a) - i) for i in range(0, len(a), 4)]
    for fa, fb in zip(a, b, strict=True):
        np.testing.assert_allclose(fa.box, fb.box)
        np.testing.assert_allclose(fa.landmarks, fb.landmarks, atol=1e-3)
    # the faces differ from one another (the test would not notice a mix-up otherwise)
    centres = np.array([f.landmarks[:, :2].mean(0) for f in a])
    assert np.min([np.linalg.norm(c - d) for i, c in enumerate(centres) for d in centres[i + 1:]]) > 100


# --------------------------------------------------------------------------- TTA front ends


@pytest.fixture(scope="module")
def tta_prns() -> dict[str, PRN]:
    return {mode: PRN(device="cpu", backend="torch", tta=mode) for mode in ("flip", "shift")}


@pytest.mark.parametrize("mode", ["flip", "shift"])
def test_tta_reconstruct_and_tracker_agree(tta_prns, astro, mode):
    """With TTA, FaceTracker's first frame (detector box → crop, then a re-crop from the
    landmarks) equals ``PRN(refine=True).reconstruct`` (the same two crops), its next frame
    equals ``reconstruct(frame, landmarks=previous)``, and every crop costs the TTA mode's
    network passes (1 / 2 / 10)."""
    from prnet.apps import FaceTracker

    prn = tta_prns[mode]
    spy = NetSpy(prn)
    try:
        tracker = FaceTracker(prn)
        (t0,) = tracker.update(astro)
        assert spy.passes == 2 * PASSES[mode]  # box crop + landmark crop
        spy.clear()
        (t1,) = tracker.update(astro)
        assert spy.passes == PASSES[mode]  # landmark crop only: the detector is not due
        assert t1.source == "track" and tracker.detector_calls == 1
        spy.clear()
        prn.refine = True
        try:
            (ref,) = prn.reconstruct(astro)
        finally:
            prn.refine = False
        assert spy.passes == 2 * PASSES[mode]
        spy.clear()
        (nxt,) = prn.reconstruct(astro, landmarks=[t0.face.landmarks[:, :2]])
        assert spy.passes == PASSES[mode]
    finally:
        spy.remove()
    np.testing.assert_allclose(t0.face.landmarks, ref.landmarks, atol=1e-3)
    np.testing.assert_allclose(t1.face.landmarks, nxt.landmarks, atol=1e-3)


@pytest.mark.parametrize("mode", ["off", "flip", "shift"])
def test_tta_bench_pipeline_runs_what_reconstruct_runs(tta_prns, prn, sample_image_path, tmp_path,
                                                       mode):
    """bench_pipeline times the TTA the PRN is set to: the network passes (warm-up + 1 repeat)
    and the landmarks it exports are those of ``reconstruct``."""
    from prnet.eval.bench import bench_pipeline

    p = prn if mode == "off" else tta_prns[mode]
    spy = NetSpy(p)
    try:
        r = bench_pipeline(p, sample_image_path.read_bytes(), repeats=1, out_dir=tmp_path)
        assert r["faces"] == 1
        assert spy.passes == 2 * PASSES[mode]
        spy.clear()
        (face,) = p.reconstruct(sample_image_path)
        assert spy.passes == PASSES[mode]
    finally:
        spy.remove()
    np.testing.assert_allclose(np.loadtxt(tmp_path / "face1_0_kpt.txt"), face.landmarks, atol=2e-3)


def test_tta_modes_give_distinct_results(tta_prns, prn, astro):
    """The three modes really differ (a mode silently falling back to another would not), but
    only slightly (same face)."""
    k = {"off": prn.reconstruct(astro)[0].landmarks}
    k.update({m: p.reconstruct(astro)[0].landmarks for m, p in tta_prns.items()})
    for a, b in (("off", "flip"), ("flip", "shift"), ("off", "shift")):
        d = np.abs(k[a] - k[b]).max()
        assert 0.05 < d < 5.0, (a, b, d)


def test_golden_file_has_hundredth_pixel_precision():
    """The golden landmarks keep 0.01 px (the golden test's 0.2 px bound needs it)."""
    gold = json.loads((Path(__file__).parent / "data" / "astronaut_golden.json").read_text())
    pts = np.array(gold["landmarks"])
    assert pts.shape == (68, 3)
    np.testing.assert_allclose(pts, np.round(pts, 2), atol=1e-9)
    assert not np.allclose(pts, np.round(pts, 1))  # more than 0.1 px precision
