"""BlazeFace detector behaviour on the bundled astronaut photo and synthetic images."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from prnet.detect import Detection, get_detector
from prnet.detect.blazeface import (
    BlazeFaceDetector,
    Stage,
    letterbox,
    load_net,
    pad_same,
    ssd_anchors,
    weighted_nms,
)
from prnet.errors import InputShapeError, PRNetError, WeightsError

# Golden box of the astronaut's face (short-range model), x0 y0 x1 y1 in pixels.
ASTRONAUT_BOX = np.array([177.3, 80.2, 271.7, 174.6], np.float32)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    path = Path(str(resources.files("prnet") / "assets" / "astronaut.jpg"))
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def detector() -> BlazeFaceDetector:
    det = get_detector("blazeface")
    assert isinstance(det, BlazeFaceDetector)
    return det


def test_astronaut_one_face_in_place(astronaut: np.ndarray, detector: BlazeFaceDetector) -> None:
    dets = detector.detect(astronaut)
    assert len(dets) == 1
    d = dets[0]
    assert d.box.dtype == np.float32 and d.box.shape == (4,)
    np.testing.assert_allclose(d.box, ASTRONAUT_BOX, atol=2.0)
    assert d.score > 0.85
    kps = d.keypoints
    assert kps is not None and kps.shape == (6, 2)
    x0, y0, x1, y1 = d.box
    assert np.all((kps[:4] >= [x0, y0]) & (kps[:4] <= [x1, y1]))  # eyes, nose, mouth in box
    right_eye, left_eye, nose, mouth = kps[:4]
    assert right_eye[0] < nose[0] < left_eye[0]  # subject's right eye is on the image left
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]


@pytest.mark.parametrize("name", ["blazeface_short", "blazeface_full", "blazeface_tiled",
                                  "blazeface_fast"])
def test_every_variant_finds_the_astronaut(name: str, astronaut: np.ndarray) -> None:
    dets = get_detector(name).detect(astronaut)
    assert len(dets) == 1
    cx, cy = dets[0].center
    assert abs(cx - 224.5) < 10 and abs(cy - 127.4) < 15


def test_mirrored_image_gives_mirrored_box(astronaut: np.ndarray, detector) -> None:
    w = astronaut.shape[1]
    (d,) = detector.detect(np.ascontiguousarray(astronaut[:, ::-1]))
    mirrored = np.array(
        [w - 1 - ASTRONAUT_BOX[2], ASTRONAUT_BOX[1], w - 1 - ASTRONAUT_BOX[0], ASTRONAUT_BOX[3]]
    )
    np.testing.assert_allclose(d.box, mirrored, atol=4.0)


def test_boxes_map_back_through_letterbox(astronaut: np.ndarray) -> None:
    """A narrower crop at the same scale: the box moves with the crop offset."""
    crop = np.ascontiguousarray(astronaut[:, 100:420])
    (d,) = get_detector("blazeface_short").detect(crop)
    np.testing.assert_allclose(d.box, ASTRONAUT_BOX - [100, 0, 100, 0], atol=4.0)


def test_large_image_tiles_find_the_face_once(astronaut: np.ndarray) -> None:
    big = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_LINEAR)
    dets = get_detector("blazeface_tiled").detect(big)
    assert len(dets) == 1
    np.testing.assert_allclose(dets[0].box, (ASTRONAUT_BOX + 0.5) * 3 - 0.5, atol=8.0)


def test_several_faces_sorted_left_to_right(astronaut: np.ndarray, detector) -> None:
    face = cv2.resize(astronaut[40:300, 120:330], (210, 260))
    canvas = np.zeros((300, 700, 3), np.uint8)
    for x in (20, 250, 480):
        canvas[20:280, x : x + 210] = face
    dets = detector.detect(canvas)
    assert len(dets) == 3
    centres = [d.center[0] for d in dets]
    assert centres == sorted(centres)


@pytest.mark.parametrize("shape", [(240, 320, 3), (64, 64, 3), (900, 300, 3)])
def test_blank_image_gives_no_face(shape: tuple[int, int, int], detector) -> None:
    assert detector.detect(np.zeros(shape, np.uint8)) == []
    assert detector.detect(np.full(shape, 200, np.uint8)) == []


def test_batch_equals_single(astronaut: np.ndarray, detector) -> None:
    images = [astronaut, np.zeros((100, 80, 3), np.uint8), np.ascontiguousarray(astronaut[::2])]
    batch = detector.detect_batch(images)
    for image, got in zip(images, batch):
        single = detector.detect(image)
        assert len(got) == len(single)
        for a, b in zip(got, single):
            np.testing.assert_allclose(a.box, b.box, atol=1e-3)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((50, 50), np.uint8), "expected shape (H, W, 3) RGB, got (50, 50)"),
        (np.zeros((50, 50, 4), np.uint8), "expected shape (H, W, 3) RGB, got (50, 50, 4)"),
        (np.zeros((50, 50, 3), np.float32), "expected dtype uint8, got float32"),
        ([[0]], "expected a numpy array, got list"),
    ],
)
def test_bad_input_is_rejected(image: object, message: str, detector) -> None:
    with pytest.raises(InputShapeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        detector.detect(image)  # type: ignore[arg-type]


def test_letterbox_maps_image_corners_back() -> None:
    image = np.zeros((50, 100, 3), np.uint8)
    tensor, lb = letterbox(image, 128)
    assert tensor.shape == (3, 128, 128) and tensor.min() == -1.0
    # Edges of the image in normalised input coords → pixel-centre coords -0.5 and W-0.5.
    edges = (
        np.array([[lb.off_x, lb.off_y], [lb.off_x + 100 * lb.scale_x, lb.off_y + 50 * lb.scale_y]])
        / 128
    )
    np.testing.assert_allclose(lb.to_image(edges), [[-0.5, -0.5], [99.5, 49.5]], atol=1e-4)


def test_anchors_follow_mediapipe_layout() -> None:
    short = ssd_anchors(128, (8, 16, 16, 16), 2)
    assert short.shape == (896, 2)
    np.testing.assert_allclose(short[:2], [[0.5 / 16, 0.5 / 16]] * 2)
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[512:518], [[0.5 / 8, 0.5 / 8]] * 6)
    np.testing.assert_allclose(short[-1], [7.5 / 8, 7.5 / 8])
    full = ssd_anchors(192, (4,), 1)
    assert full.shape == (2304, 2)
    np.testing.assert_allclose(
        full[[0, 1, 48]], [[0.5 / 48, 0.5 / 48], [1.5 / 48, 0.5 / 48], [0.5 / 48, 1.5 / 48]]
    )


def test_weighted_nms_blends_clusters() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    kps[1] += 5.0
    b, s, k = weighted_nms(boxes, scores, kps, 0.3)
    np.testing.assert_allclose(s, [0.9, 0.7])
    np.testing.assert_allclose(b[0], [0.4, 0.4, 10.4, 10.4], atol=1e-5)  # (0.9·0 + 0.6·1)/1.5
    np.testing.assert_allclose(k[0], 2.0, atol=1e-5)
    np.testing.assert_allclose(b[1], boxes[2])
    empty = weighted_nms(boxes[:0], scores[:0], kps[:0], 0.3)
    assert [a.shape[0] for a in empty] == [0, 0, 0]


def test_pad_same_is_asymmetric_for_stride_two() -> None:
    x = torch.ones(1, 1, 64, 64)
    y = pad_same(x, 3, 2)
    assert y.shape[-2:] == (65, 65)
    assert y[0, 0, 0, 0] == 1 and y[0, 0, -1, -1] == 0  # TF pads after, not before
    assert pad_same(x, 5, 2).shape[-1] == 67  # 1 before, 2 after


def test_detection_is_immutable() -> None:
    d = Detection([1, 2, 3, 4], 0.5, None)
    assert d.box.dtype == np.float32 and not d.box.flags.writeable
    with pytest.raises(AttributeError):
        d.score = 1.0  # type: ignore[misc]
    with pytest.raises(InputShapeError):
        Detection([1, 2, 3], 0.5)
    with pytest.raises(InputShapeError):
        Detection([1, 2, 3, 4], 0.5, np.zeros((5, 2)))


def test_bad_stage_and_weights(tmp_path: Path) -> None:
    with pytest.raises(PRNetError, match="unknown BlazeFace variant 'medium'"):
        Stage("medium")
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="cannot load"):
        load_net("short", weights=bad)
    with pytest.raises(WeightsError, match="not found"):
        load_net("short", weights=tmp_path / "missing.safetensors")


def test_fast_runs_full_range_only_where_short_finds_nothing(astronaut: np.ndarray) -> None:
    det = get_detector("blazeface_fast")
    calls: list[str] = []
    for variant, net in det.nets.items():
        net.net.register_forward_hook(lambda *a, v=variant: calls.append(v))
    assert len(det.detect(astronaut)) == 1 and calls == ["short"]
    calls.clear()
    assert det.detect(np.full((256, 256, 3), 90, np.uint8)) == []
    assert calls == ["short", "full", "short"]
