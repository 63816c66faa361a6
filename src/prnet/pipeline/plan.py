"""Crop planning: which 256×256 similarity crop the network sees for each face.

A face comes from a detector (cropped by the detector's :class:`~prnet.geometry.crop.CropPolicy`),
from a box the caller gives (:data:`~prnet.detect.base.DEFAULT_BOX_CROP`) or from landmarks
(:data:`~prnet.geometry.crop.LANDMARK_CROP`, PRNet's ``run_basics``); the planning stage gives
one :class:`FacePlan` per face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prnet.detect import Detection
from prnet.detect.base import DEFAULT_BOX_CROP
from prnet.geometry.crop import LANDMARK_CROP, CropPolicy
from prnet.validation import check_boxes, check_landmarks

#: The detector box → crop calibration as a dict (``scale``, ``shift``).
DETECTOR_CROP = {"scale": DEFAULT_BOX_CROP.scale, "shift": DEFAULT_BOX_CROP.shift}


@dataclass(frozen=True, eq=False)
class FacePlan:
    """One face to reconstruct: where it is and the crop the network sees.

    Attributes:
        box: (4,) float32 x0, y0, x1, y1 (the detection, the given box or the landmarks' box).
        score: detector confidence (1.0 for given boxes and landmarks).
        crop_matrix: (2, 3) similarity image → 256×256 network crop.
        source: "detector", "box" or "landmarks": where the crop came from.
    """

    box: np.ndarray
    score: float
    crop_matrix: np.ndarray
    source: str


def plan_boxes(detections: Sequence[Detection], policy: CropPolicy = DEFAULT_BOX_CROP,
               source: str = "detector", image_shape: tuple[int, int] | None = None,
               ) -> list[FacePlan]:
    """One plan per detection (or given box), cropped by ``policy``.

    Raises:
        InvalidInputError: a box that :func:`prnet.validation.check_boxes` rejects (the
            image checks only when ``image_shape`` (height, width) is given).
    """
    boxes = check_boxes([d.box for d in detections], image_shape)
    return [FacePlan(b, float(d.score), policy.from_box(b), source)
            for b, d in zip(boxes, detections, strict=True)]


def plan_landmarks(landmarks: Sequence[np.ndarray], policy: CropPolicy = LANDMARK_CROP,
                   image_shape: tuple[int, int] | None = None) -> list[FacePlan]:
    """One plan per landmark set ((K ≥ 5, ≥ 2) points), cropped by ``policy``.

    Raises:
        InputShapeError: a set that is not (K ≥ 5, ≥ 2) points.
        InvalidInputError: a set that :func:`prnet.validation.check_landmarks` rejects.
    """
    kps = check_landmarks(landmarks, image_shape)
    return [FacePlan(np.r_[k.min(0), k.max(0)].astype(np.float32), 1.0, policy.from_landmarks(k),
                     "landmarks") for k in kps]


def replan_from_landmarks(plans: Sequence[FacePlan], landmarks: Sequence[np.ndarray],
                          policy: CropPolicy = LANDMARK_CROP) -> list[FacePlan]:
    """The same faces (box, score and source kept) re-cropped from their predicted landmarks."""
    return [FacePlan(p.box, p.score, policy.from_landmarks(np.asarray(k)[:, :2]), p.source)
            for p, k in zip(plans, landmarks, strict=True)]
