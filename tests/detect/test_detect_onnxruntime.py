"""The detector's networks in onnxruntime (the CPU default when it is installed): the same
detections as torch, the PRN wiring of the backend, and the fallback to torch under "auto"."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from prnet.detect import get_detector
from prnet.errors import PRNetError
from prnet.io import read_image

try:
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    HAVE_ORT = True
except ImportError:
    HAVE_ORT = False
needs_ort = pytest.mark.skipif(not HAVE_ORT, reason='needs onnx and onnxruntime: pip install "prnet[onnx]"')


def _same(a, b, atol: float = 1e-2) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.box, y.box, atol=atol)
        np.testing.assert_allclose(x.keypoints, y.keypoints, atol=atol)
        assert abs(x.score - y.score) < 1e-4


@needs_ort
@pytest.mark.parametrize("name", ["blazeface", "blazeface_short", "blazeface_full"])
def test_same_detections_as_torch(name, sample_image_path, tmp_path, monkeypatch):
    monkeypatch.setenv("PRNET_CACHE", str(tmp_path))
    img = read_image(sample_image_path)
    mosaic = np.concatenate([np.concatenate([img, img[:, ::-1]], 1)] * 2, 0)  # 4 smaller faces
    torch_det, ort_det = get_detector(name), get_detector(name, backend="onnxruntime")
    assert ort_det.backend == "onnxruntime" and torch_det.backend == "torch"
    mosaic = np.ascontiguousarray(mosaic)
    assert len(ort_det(img)) == 1
    for im in (img, mosaic):
        _same(ort_det(im), torch_det(im))
    for got, want in zip(ort_det.detect_batch([img, mosaic]), [torch_det(img), torch_det(mosaic)]):
        _same(got, want)


@needs_ort
def test_prn_detector_follows_the_network_backend(tmp_path, monkeypatch):
    from prnet import PRN

    monkeypatch.setenv("PRNET_CACHE", str(tmp_path))
    assert PRN(device="cpu", backend="onnxruntime").detector.backend == "onnxruntime"
    assert PRN(device="cpu", backend="torch").detector.backend == "torch"
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "onnx").glob("*.onnx"))
    assert names == ["blazeface_full", "blazeface_short", "mobilenet_unet"]


@needs_ort
def test_auto_detector_falls_back_to_torch(tmp_path, monkeypatch, caplog):
    import prnet.models.onnx_runtime as rt
    from prnet import PRN

    monkeypatch.setenv("PRNET_CACHE", str(tmp_path))

    def broken(variant):
        raise OSError("no space left on device")

    monkeypatch.setattr(rt, "cached_detector_onnx", broken)
    with caplog.at_level(logging.WARNING, logger="prnet.pipeline.prn"):
        p = PRN(device="cpu")
    assert p.backend == "onnxruntime" and p.detector.backend == "torch"
    msgs = [r.getMessage() for r in caplog.records if r.name == "prnet.pipeline.prn"]
    assert len(msgs) == 1 and "no space left" in msgs[0] and "\n" not in msgs[0]
    with pytest.raises(OSError, match="no space"):
        PRN(device="cpu", backend="onnxruntime")  # asked for explicitly: no fallback


def test_unknown_backend_and_detector_names():
    with pytest.raises(PRNetError, match="torch or onnxruntime"):
        get_detector("blazeface", backend="tflite")
    with pytest.raises(PRNetError, match="unknown face detector"):
        get_detector("nope", backend="onnxruntime")


@needs_ort
def test_ranges_run_at_once_with_two_threads(sample_image_path, monkeypatch):
    """With two threads the short and full range run at once (one session thread each), on
    two threads of the process, and find exactly what one after the other finds."""
    import threading

    import torch

    from prnet.detect import blazeface

    img = read_image(sample_image_path)
    mosaic = np.ascontiguousarray(np.concatenate([img, img[::2, ::2].repeat(2, 0).repeat(2, 1)], 1))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        par = get_detector("blazeface", backend="onnxruntime")
        torch.set_num_threads(1)
        seq = get_detector("blazeface", backend="onnxruntime")
    finally:
        torch.set_num_threads(before)
    assert par.parallel and not seq.parallel
    threads = set()
    real = blazeface._OrtNet.__call__

    def spy(self, x):
        threads.add(threading.get_ident())
        return real(self, x)

    monkeypatch.setattr(blazeface._OrtNet, "__call__", spy)
    for image in (img, mosaic, np.zeros((200, 300, 3), np.uint8)):
        got, want = par.detect(image), seq.detect(image)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.box, b.box)
            assert a.score == b.score
    assert len(threads) == 2


def test_independent_stage_groups():
    from prnet.detect.blazeface import (
        DEFAULT_STAGES,
        FAST_STAGES,
        TILED_STAGES,
        _independent_groups,
    )

    assert [len(g) for g in _independent_groups(DEFAULT_STAGES)] == [2, 1]
    assert [len(g) for g in _independent_groups(TILED_STAGES)] == [3, 1]
    assert [len(g) for g in _independent_groups(FAST_STAGES)] == [1, 1, 1]
