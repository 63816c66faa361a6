"""Face detectors behind one interface, chosen by name.

>>> det = get_detector("blazeface")            # doctest: +SKIP
>>> det.detect(rgb_uint8_image)                # doctest: +SKIP
[Detection(box=array([x0, y0, x1, y1]), score=0.97, keypoints=array(6×2))]

Precomputed boxes (``--boxes FILE``) come from :meth:`BoxesDetector.from_json`.
BlazeFace reports no face smaller than :data:`MIN_FACE_SIZE` px, none in an image shorter than
:data:`MIN_IMAGE_SIDE` px and none on noise (:mod:`prnet.detect.limits`).
"""

from __future__ import annotations

from collections.abc import Callable

from prnet.detect.base import KEYPOINT_NAMES, Detection, FaceDetector
from prnet.detect.boxes import BoxesDetector
from prnet.detect.limits import MIN_FACE_SIZE, MIN_IMAGE_SIDE
from prnet.errors import PRNetError

__all__ = [
    "KEYPOINT_NAMES",
    "MIN_FACE_SIZE",
    "MIN_IMAGE_SIDE",
    "BoxesDetector",
    "Detection",
    "FaceDetector",
    "available_detectors",
    "get_detector",
]


def _blazeface(stages: str, name: str) -> Callable[[str, str], FaceDetector]:
    """Factory of a BlazeFace detector; ``stages`` names a tuple in prnet.detect.blazeface."""

    def make(device: str, backend: str = "torch") -> FaceDetector:
        from prnet.detect import blazeface

        return blazeface.BlazeFaceDetector(getattr(blazeface, stages), device=device, name=name,
                                           backend=backend)

    return make


_REGISTRY: dict[str, tuple[Callable[[str, str], FaceDetector], str]] = {
    "blazeface": (
        _blazeface("DEFAULT_STAGES", "blazeface"),
        "BlazeFace short + full range merged; short range with a margin where both find nothing",
    ),
    "blazeface_tiled": (
        _blazeface("TILED_STAGES", "blazeface_tiled"),
        "blazeface plus full range on tiles of images >= 1024 px (small faces in big photos)",
    ),
    "blazeface_fast": (
        _blazeface("FAST_STAGES", "blazeface_fast"),
        "blazeface, full range only where short range finds none (faster; misses small faces)",
    ),
    "blazeface_short": (
        _blazeface("SHORT_STAGES", "blazeface_short"),
        "BlazeFace short range (128 px) only: faces that fill a good part of the image",
    ),
    "blazeface_full": (
        _blazeface("FULL_STAGES", "blazeface_full"),
        "BlazeFace full range (192 px) only: also smaller faces",
    ),
}


def available_detectors() -> dict[str, str]:
    """Registered detector names with a one-line description each."""
    return {name: desc for name, (_, desc) in _REGISTRY.items()}


def get_detector(name: str, device: str = "cpu", backend: str = "torch") -> FaceDetector:
    """The face detector registered as ``name``, on ``device``; ``backend="onnxruntime"`` runs
    its networks in onnxruntime (CPU; exported into the ONNX cache on first use).

    Raises:
        PRNetError: unknown name (the message lists the valid ones).
        WeightsError: the detector's bundled weights are missing or corrupt.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        valid = ", ".join(sorted(_REGISTRY))
        raise PRNetError(
            f"unknown face detector {name!r}; valid names: {valid} "
            "(precomputed boxes: BoxesDetector.from_json(path))"
        )
    return _REGISTRY[key][0](device, backend)
