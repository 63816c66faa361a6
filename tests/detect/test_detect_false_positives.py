"""No faces in noise, flat or tiny images; the size limits keep real faces (hardening defect 5).

Figures behind the limits: research/detector_false_positives.py (research/README.md).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest

from prnet.detect import available_detectors, get_detector, limits
from prnet.detect.base import FaceDetector
from prnet.detect.blazeface import BlazeFaceDetector

NAMES = sorted(available_detectors())
#: Side of the astronaut's face box (short-range golden box, px of the 512-px photo).
ASTRONAUT_FACE = 94.4


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    path = Path(str(resources.files("prnet") / "assets" / "astronaut.jpg"))
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def detectors() -> dict[str, FaceDetector]:
    return {name: get_detector(name) for name in NAMES}


def non_faces() -> list[np.ndarray]:
    """The issue's noise set (uniform and Gaussian noise, 8-40 px), larger noise, flat and tiny
    images, thin strips; fixed seed."""
    rng = np.random.default_rng(5)
    out = []
    for size in (8, 10, 12, 16, 20, 24, 28, 32, 36, 40, 64, 128, 256):
        out.append(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        out.append(np.clip(rng.normal(128, 50, (size, size, 3)), 0, 255).astype(np.uint8))
    for size in (1, 2, 8, 15, 64):
        for value in (0, 128, 255):
            out.append(np.full((size, size, 3), value, np.uint8))
    out += [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((8, 640, 3), (640, 12, 3))]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_no_face_in_noise_flat_or_tiny_images(name: str, detectors: dict) -> None:
    images = non_faces()
    found = detectors[name].detect_batch(images)
    bad = [(im.shape, [round(d.score, 3) for d in ds]) for im, ds in zip(images, found) if ds]
    assert not bad, f"{name} found faces in non-face images: {bad}"


def test_the_issue_case_ten_pixel_noise(detectors: dict) -> None:
    image = np.random.default_rng(0).integers(0, 256, (10, 10, 3), dtype=np.uint8)
    assert all(det.detect(image) == [] for det in detectors.values())


@pytest.mark.parametrize("name", NAMES)
def test_astronaut_full_size_and_at_the_minimum_face_size(
    name: str, astronaut: np.ndarray, detectors: dict
) -> None:
    assert len(detectors[name].detect(astronaut)) == 1
    # Scaled so that the face box is just above the limit (MIN_FACE_SIZE + 1 px): still found.
    s = (limits.MIN_FACE_SIZE + 1) / ASTRONAUT_FACE
    small = cv2.resize(astronaut, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    (det,) = detectors[name].detect(small)
    assert limits.MIN_FACE_SIZE <= min(det.size) <= 2.5 * limits.MIN_FACE_SIZE


@pytest.mark.parametrize("name", NAMES)
def test_face_below_the_minimum_size_is_no_face(
    name: str, astronaut: np.ndarray, detectors: dict
) -> None:
    s = limits.MIN_FACE_SIZE / 2 / ASTRONAUT_FACE
    small = cv2.resize(astronaut, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    assert detectors[name].detect(small) == []


def test_image_below_the_minimum_side_is_no_face(astronaut: np.ndarray, detectors: dict) -> None:
    thin = cv2.resize(astronaut, (512, limits.MIN_IMAGE_SIDE - 1), interpolation=cv2.INTER_AREA)
    assert all(det.detect(thin) == [] for det in detectors.values())


def test_limits_are_documented_defaults(detectors: dict) -> None:
    assert isinstance(limits.MIN_FACE_SIZE, int) and limits.MIN_FACE_SIZE > 0
    assert isinstance(limits.MIN_IMAGE_SIDE, int) and 0 < limits.MIN_IMAGE_SIDE
    assert 0 < limits.MAX_OUTSIDE < 1 and 0 < limits.MIN_CORRELATION < 1
    for name in ("MIN_FACE_SIZE", "MIN_IMAGE_SIDE", "MAX_OUTSIDE", "MIN_CORRELATION"):
        assert name in (limits.__doc__ or "")
    for det in detectors.values():
        assert isinstance(det, BlazeFaceDetector)
        assert det.min_face_size == limits.MIN_FACE_SIZE
        assert det.min_image_side == limits.MIN_IMAGE_SIDE
        assert det.max_outside == limits.MAX_OUTSIDE
        assert det.min_correlation == limits.MIN_CORRELATION


def test_limits_can_be_turned_off(astronaut: np.ndarray) -> None:
    det = BlazeFaceDetector(min_face_size=0, min_image_side=0, max_outside=np.inf,
                            min_correlation=-np.inf)
    s = limits.MIN_FACE_SIZE / 2 / ASTRONAUT_FACE
    small = cv2.resize(astronaut, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    (found,) = det.detect(small)
    assert min(found.size) < limits.MIN_FACE_SIZE


def test_plausible_boxes() -> None:
    boxes = np.array(
        [
            [10, 10, 60, 60],  # inside, 50 px: kept
            [10, 10, 20, 20],  # 10 px: too small
            [-70, 10, 30, 110],  # 100 px, 70 % outside: dropped
            [-20, 0, 80, 100],  # 100 px, 20 % outside (image edges at -0.5, 99.5): kept
            [0, 0, np.nan, 50],  # not finite
        ],
        np.float32,
    )
    keep = limits.plausible_boxes(boxes, (100, 100, 3))
    assert keep.tolist() == [True, False, False, True, False]
    np.testing.assert_allclose(limits.outside_fraction(boxes[[0, 3]], (100, 100)), [0, 1 - 80.5 * 99.5 / 1e4])
    assert limits.image_too_small((limits.MIN_IMAGE_SIDE - 1, 500, 3))
    assert not limits.image_too_small((limits.MIN_IMAGE_SIDE, 500, 3))


def test_noise_has_no_pixel_correlation_photos_do(astronaut: np.ndarray) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    box = np.array([10, 10, 100, 100], np.float32)
    assert abs(limits.pixel_correlation(noise, box)) < 0.1
    face = np.array([177.3, 80.2, 271.7, 174.6], np.float32)
    assert limits.pixel_correlation(astronaut, face) > 0.9
    assert limits.pixel_correlation(np.zeros((50, 50, 3), np.uint8), box) == 1.0
    assert limits.structured(astronaut, np.stack([face, face])).tolist() == [True, True]
    assert limits.structured(noise, box[None]).tolist() == [False]
