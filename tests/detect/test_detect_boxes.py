"""The precomputed-boxes detector (evaluation and ``--boxes FILE``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from prnet.detect import BoxesDetector, FaceDetector
from prnet.errors import InputShapeError, PRNetError

IMAGE = np.zeros((40, 60, 3), np.uint8)


def test_returns_given_boxes_left_to_right() -> None:
    det = BoxesDetector({"a.jpg": [[30, 0, 40, 10], [0, 0, 10, 10]]})
    assert isinstance(det, FaceDetector)
    dets = det.detect(IMAGE, key="a.jpg")
    assert [d.box.tolist() for d in dets] == [[0, 0, 10, 10], [30, 0, 40, 10]]
    assert all(d.score == 1.0 and d.keypoints is None for d in dets)


def test_key_lookup_by_path_name_and_stem() -> None:
    det = BoxesDetector({"a.jpg": [[1, 2, 3, 4]], "sub/b.png": [[5, 6, 7, 8]]})
    assert len(det.detect(IMAGE, key="/some/where/a.jpg")) == 1
    assert len(det.detect(IMAGE, key=Path("sub/b.png"))) == 1
    assert len(det.detect(IMAGE, key="b")) == 1
    assert det.detect(IMAGE, key="sub/b.png")[0].box.tolist() == [5, 6, 7, 8]


def test_ambiguous_and_unknown_keys(caplog: pytest.LogCaptureFixture) -> None:
    det = BoxesDetector({"x/a.jpg": [[0, 0, 4, 4]], "y/a.jpg": [[2, 2, 6, 6]]})
    assert det.detect(IMAGE, key="y/a.jpg")[0].box.tolist() == [2, 2, 6, 6]
    with caplog.at_level(logging.WARNING):
        assert det.detect(IMAGE, key="a.jpg") == []  # two candidates: no guess
        assert det.detect(IMAGE, key="c.jpg") == []
    assert "no precomputed boxes for c.jpg" in caplog.text


def test_empty_box_list_means_no_face() -> None:
    assert BoxesDetector({"a.jpg": []}).detect(IMAGE, key="a.jpg") == []


def test_needs_a_key() -> None:
    det = BoxesDetector({"a.jpg": [[0, 0, 4, 4]]})
    with pytest.raises(PRNetError, match=r"needs the image's name or path"):
        det.detect(IMAGE)
    with pytest.raises(PRNetError, match="one key"):
        det.detect_batch([IMAGE, IMAGE], keys=["a.jpg"])
    assert [len(r) for r in det.detect_batch([IMAGE, IMAGE], keys=["a.jpg", "b.jpg"])] == [1, 0]


def test_from_json(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"imgs/p.jpg": [[10, 20, 30, 40]]}))
    det = BoxesDetector.from_json(path)
    assert det.keys() == ["imgs/p.jpg"]
    assert len(det.detect(IMAGE, key=tmp_path / "imgs" / "p.jpg")) == 1  # relative to the JSON


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("[1, 2]", PRNetError, "expected a JSON object, got list"),
        ("{not json", PRNetError, "cannot read boxes file"),
        ('{"a.jpg": [[1, 2, 3]]}', InputShapeError, r"boxes\['a.jpg'\]: expected a list of"),
    ],
)
def test_bad_json(tmp_path: Path, text: str, error: type, message: str) -> None:
    path = tmp_path / "boxes.json"
    path.write_text(text)
    with pytest.raises(error, match=message):
        BoxesDetector.from_json(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PRNetError, match="cannot read boxes file"):
        BoxesDetector.from_json(tmp_path / "nope.json")
