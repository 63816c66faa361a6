"""Raw-output equivalence of the PyTorch BlazeFace networks with MediaPipe's TFLite models.

Needs ``ai-edge-litert`` (``pip install ai-edge-litert``) and the .tflite files that
``scripts/convert_blazeface.py`` caches in ``$PRNET_CACHE/mediapipe`` (default
``~/.cache/prnet/mediapipe``); real photos come from ``../shared`` when present.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from prnet.detect.blazeface import SPECS, letterbox, load_net

TFLITE = {
    "short": "face_detection_short_range.tflite",
    "full": "face_detection_full_range_sparse.tflite",
}


def _cache() -> Path:
    root = os.environ.get("PRNET_CACHE") or Path.home() / ".cache" / "prnet"
    return Path(root) / "mediapipe"


def _interpreter(variant: str):
    litert = pytest.importorskip(
        "ai_edge_litert.interpreter", reason="ai-edge-litert not installed (pip install it)"
    )
    path = _cache() / TFLITE[variant]
    if not path.is_file():
        pytest.skip(f"{path} missing: run scripts/convert_blazeface.py to fetch it")
    it = litert.Interpreter(model_path=str(path))
    it.allocate_tensors()
    return it


def _compare(variant: str, inputs: list[np.ndarray]) -> None:
    it = _interpreter(variant)
    net = load_net(variant)
    for x in inputs:
        it.set_tensor(it.get_input_details()[0]["index"], x[None])
        it.invoke()
        outs = [it.get_tensor(o["index"])[0] for o in it.get_output_details()]
        reg_ref, cls_ref = sorted(outs, key=lambda a: -a.shape[-1])
        with torch.inference_mode():
            reg, cls = (t[0].numpy() for t in net(torch.from_numpy(x[None]).permute(0, 3, 1, 2)))
        assert reg.shape == reg_ref.shape and cls.shape == cls_ref.shape
        # XNNPACK accumulates in another order: measured max |diff| 9e-4 (boxes, in input
        # pixels) and 2.5e-3 (logits) on real photos.
        np.testing.assert_allclose(reg, reg_ref, rtol=1e-4, atol=5e-3)
        np.testing.assert_allclose(cls, cls_ref, rtol=1e-4, atol=5e-3)


@pytest.mark.parametrize("variant", ["short", "full"])
def test_random_inputs_match_tflite(variant: str) -> None:
    size = SPECS[variant].input_size
    rng = np.random.default_rng(1)
    _compare(variant, [rng.uniform(-1, 1, (size, size, 3)).astype(np.float32) for _ in range(2)])


@pytest.mark.shared
@pytest.mark.parametrize("variant", ["short", "full"])
def test_real_photos_match_tflite(variant: str, shared_dir: Path) -> None:
    data = shared_dir / "data"
    files = sorted((data / "samples").glob("*.jpg"))
    files += sorted((data / "aflw2000-3d-dev").glob("*.jpg"))[:8]
    if not files:
        pytest.skip("no sample photos in ../shared")
    size = SPECS[variant].input_size
    inputs = []
    for f in files:
        rgb = cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        inputs.append(np.ascontiguousarray(letterbox(rgb, size)[0].transpose(1, 2, 0)))
    _compare(variant, inputs)
