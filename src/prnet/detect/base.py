"""The face-detector interface: :class:`Detection` results and the :class:`FaceDetector` base."""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prnet.errors import InputShapeError
from prnet.geometry.crop import CropPolicy

#: Detector box → crop, fitted on the 400 AFLW2000-3D dev images so that BlazeFace crops match
#: the landmark-box crops (research/calibrate_crop.py; PRNet's 1.58 / 0.14 were for dlib boxes).
#: Used for given boxes and for detectors without a calibration of their own.
DEFAULT_BOX_CROP = CropPolicy(scale=1.49, shift=0.061)

#: Names of the six BlazeFace keypoints, in order (left/right as seen by the subject).
KEYPOINT_NAMES: tuple[str, ...] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_centre",
    "right_ear_tragion",
    "left_ear_tragion",
)


@dataclass(frozen=True, eq=False)
class Detection:
    """One detected face, in pixels of the image it was found in (pixel centres at integers).

    Attributes:
        box: (4,) float32 ``x0, y0, x1, y1``.
        score: detector confidence in [0, 1] (1.0 for precomputed boxes).
        keypoints: (6, 2) float32 ``x, y`` of the :data:`KEYPOINT_NAMES`, or None when the
            detector gives none.

    Raises:
        InputShapeError: if ``box`` is not 4 numbers or ``keypoints`` not (6, 2).
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray | None = None

    def __post_init__(self) -> None:
        box = np.array(self.box, dtype=np.float32).reshape(-1)
        if box.shape != (4,):
            raise InputShapeError(f"Detection.box: expected 4 values, got shape {box.shape}")
        box.setflags(write=False)
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "score", float(self.score))
        if self.keypoints is not None:
            kps = np.array(self.keypoints, dtype=np.float32)
            if kps.shape != (len(KEYPOINT_NAMES), 2):
                raise InputShapeError(
                    f"Detection.keypoints: expected shape (6, 2), got {kps.shape}"
                )
            kps.setflags(write=False)
            object.__setattr__(self, "keypoints", kps)

    @property
    def center(self) -> tuple[float, float]:
        """Box centre ``(x, y)``."""
        x0, y0, x1, y1 = (float(v) for v in self.box)
        return (x0 + x1) / 2, (y0 + y1) / 2

    @property
    def size(self) -> tuple[float, float]:
        """Box ``(width, height)``."""
        x0, y0, x1, y1 = (float(v) for v in self.box)
        return x1 - x0, y1 - y0


def sort_left_to_right(detections: Sequence[Detection]) -> list[Detection]:
    """Detections ordered by box centre x (ties: by centre y)."""
    return sorted(detections, key=lambda d: (d.center[0], d.center[1]))


def check_image(image: object, what: str = "image") -> np.ndarray:
    """Return ``image`` if it is an RGB uint8 (H, W, 3) array with H, W > 0.

    Raises:
        InputShapeError: on any other type, dtype or shape.
    """
    if not isinstance(image, np.ndarray):
        raise InputShapeError(f"{what}: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputShapeError(f"{what}: expected dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise InputShapeError(f"{what}: expected shape (H, W, 3) RGB, got {image.shape}")
    return image


class FaceDetector(abc.ABC):
    """Finds faces in RGB uint8 (H, W, 3) images.

    Attributes:
        name: registry name.
        crop_policy: how this detector's boxes become the network's crop.
    """

    name: str = "detector"
    crop_policy: CropPolicy = DEFAULT_BOX_CROP

    @abc.abstractmethod
    def detect(self, image: np.ndarray, key: str | os.PathLike | None = None) -> list[Detection]:
        """All faces in ``image``, sorted left to right by box centre x; [] when none.

        ``key`` names the image (its path or name); detectors that look faces up by name
        (precomputed boxes) need it, the others ignore it.

        Raises:
            InputShapeError: if ``image`` is not RGB uint8 (H, W, 3).
        """

    def detect_batch(self, images: Sequence[np.ndarray],
                     keys: Sequence[str | os.PathLike | None] | None = None) -> list[list[Detection]]:
        """:meth:`detect` for each image (and key); subclasses may batch the work."""
        keys = [None] * len(images) if keys is None else list(keys)
        if len(keys) != len(images):
            raise InputShapeError(f"detect_batch needs one key per image: {len(images)} images, {len(keys)} keys")
        return [self.detect(image, key) for image, key in zip(images, keys, strict=True)]

    def __call__(self, image: np.ndarray, key: str | os.PathLike | None = None) -> list[Detection]:
        return self.detect(image, key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
