"""The detector registry: every registered name works, unknown names fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.detect import FaceDetector, available_detectors, get_detector
from prnet.errors import PRNetError


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(PRNetError) as info:
        get_detector("dlib")
    msg = str(info.value)
    assert msg.startswith("unknown face detector 'dlib'; valid names: blazeface, ")
    for name in available_detectors():
        assert name in msg
    assert isinstance(info.value, ValueError)


def test_names_are_case_insensitive() -> None:
    assert get_detector(" BlazeFace_Short ").name == "blazeface_short"


@pytest.mark.parametrize("name", sorted(available_detectors()))
def test_every_registered_detector(name: str) -> None:
    det = get_detector(name, device="cpu")
    assert isinstance(det, FaceDetector) and det.name == name
    assert det.detect(np.zeros((120, 160, 3), np.uint8)) == []
    assert det.detect_batch([]) == []
