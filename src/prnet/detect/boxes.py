"""A detector that returns precomputed boxes (evaluation, ``--boxes FILE``).

The JSON file maps an image name or path to its boxes::

    {"photos/a.jpg": [[x0, y0, x1, y1], ...], "b.png": []}

Look-ups try the key as given, then its resolved path, its file name and its stem.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from prnet.detect.base import Detection, FaceDetector, check_image, sort_left_to_right
from prnet.errors import InputShapeError, PRNetError
from prnet.validation import check_boxes, numbers

log = logging.getLogger(__name__)

Key = str | os.PathLike


def _variants(key: Key) -> list[str]:
    """Keys to try for ``key``, most specific first."""
    p = Path(key)
    out = [str(key), os.path.normpath(str(key))]
    try:
        out.append(str(p.resolve()))
    except OSError:
        pass
    return [*out, p.name, p.stem]


class BoxesDetector(FaceDetector):
    """Returns the boxes given for an image key (score 1.0, no keypoints).

    Args:
        boxes: image name or path → boxes (N, 4) ``x0, y0, x1, y1`` in image pixels.

    Raises:
        InputShapeError: if some entry is not a list of 4-number boxes.
        InvalidInputError: if some entry holds a value that is not a number (a string, null,
            true/false).
    """

    name = "boxes"

    def __init__(self, boxes: Mapping[str, Sequence[Sequence[float]] | np.ndarray]) -> None:
        self._boxes: dict[str, np.ndarray] = {}
        for key, value in boxes.items():
            arr = numbers(value, f"boxes[{key!r}]")
            if arr.size == 0:
                arr = arr.reshape(0, 4)
            if arr.ndim != 2 or arr.shape[1] != 4:
                raise InputShapeError(
                    f"boxes[{key!r}]: expected a list of [x0, y0, x1, y1], got shape {arr.shape}"
                )
            self._boxes[str(key)] = arr.astype(np.float32)
        # Aliases (resolved path, file name, stem) that point at exactly one key.
        owners: dict[str, set[str]] = {}
        for key in self._boxes:
            for alias in _variants(key):
                owners.setdefault(alias, set()).add(key)
        self._index = {a: next(iter(k)) for a, k in owners.items() if len(k) == 1}
        self._index.update({k: k for k in self._boxes})

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> BoxesDetector:
        """Load ``{"image name or path": [[x0, y0, x1, y1], ...]}`` from a JSON file.

        Relative path keys are also registered relative to the JSON file's folder.

        Raises:
            PRNetError: file missing or not such a JSON object. InputShapeError: bad boxes.
            InvalidInputError: a value that is not a number (the message names the file and key).
            The boxes' values (finite, ordered, on the image) are checked per image, by
            :meth:`detect`, so that one bad entry fails only its image.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise PRNetError(f"cannot read boxes file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise PRNetError(
                f"boxes file {path}: expected a JSON object, got {type(data).__name__}"
            )
        try:
            det = cls(data)
        except PRNetError as exc:
            raise type(exc)(f"boxes file {path}: {exc}") from None
        for key in list(det._boxes):
            if not Path(key).is_absolute():
                det._index.setdefault(str((path.parent / key).resolve()), key)
        return det

    def keys(self) -> list[str]:
        """The image keys that have boxes."""
        return list(self._boxes)

    def boxes_for(self, key: Key, image_shape: tuple[int, int] | None = None) -> list[Detection]:
        """The detections stored for ``key``; [] (and a warning) when the key is unknown.

        Raises:
            InvalidInputError: a stored box that :func:`prnet.validation.check_boxes` rejects
                (against ``image_shape`` when given), by its index in the file.
        """
        for alias in _variants(key):
            if alias in self._index:
                boxes = check_boxes(self._boxes[self._index[alias]], image_shape)
                return sort_left_to_right([Detection(b, 1.0, None) for b in boxes])
        log.warning("no precomputed boxes for %s", key)
        return []

    def detect(self, image: np.ndarray, key: Key | None = None) -> list[Detection]:
        """The boxes stored for ``key`` (the image's name or path), sorted left to right.

        Raises:
            PRNetError: if ``key`` is None (boxes are looked up by name, not by pixels).
            InputShapeError: if ``image`` is not RGB uint8 (H, W, 3).
            InvalidInputError: a stored box that is not finite, not ordered, degenerate or not
                on the image (its index in the file and its value).
        """
        check_image(image)
        if key is None:
            raise PRNetError(
                "the 'boxes' detector needs the image's name or path: call detect(image, key=...)"
            )
        return self.boxes_for(key, image.shape[:2])
