"""The one validation layer at prnet's boundary: boxes, landmark sets, sizes and the network's
output, each checked once by the pipeline stage that takes it in (numpy only, vectorised).

Decisions (reject vs clip):

- A box (given, from ``--boxes`` or from a detector) must be numeric, finite, ordered
  (x0 < x1, y0 < y1) and at least :data:`MIN_SIDE` px on each side: anything else is rejected,
  never repaired (an inverted box is usually ``x, y, w, h`` or ``y, x`` given by mistake).
- Against the image: a box entirely outside it, or with a side over :data:`MAX_SIDE_FACTOR`
  times the image's larger side, is rejected; a box partly outside is kept *unclipped* (the crop
  pads the borders, and clipping would move the face's crop).
- A landmark set ((K ≥ 5, ≥ 2) points) must be finite, and the box of its points passes the box
  checks (so 68 identical points are rejected).
- A position map must be finite, its 68 landmarks spread over at least
  :data:`MIN_LANDMARK_SPREAD` crop pixels in x and y, and its face within
  :data:`MAX_EXTENT_CROPS` crop sides in size and centred within one crop side of its crop:
  otherwise the whole image fails with :class:`~prnet.errors.ReconstructionError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from prnet.errors import InputShapeError, InvalidInputError, ReconstructionError
from prnet.geometry.crop import CROP

#: Smallest side of a box (or of a landmark set's box), in image pixels.
MIN_SIDE = 2.0
#: Largest side of a box, in multiples of the image's larger side.
MAX_SIDE_FACTOR = 20.0
#: Smallest extent of a face's 68 landmarks in x and in y, in crop (network input) pixels.
MIN_LANDMARK_SPREAD = 8.0
#: Largest extent of a face (x, y and z), in crop sides.
MAX_EXTENT_CROPS = 4.0
#: Allowed UV texture sides.
TEXTURE_SIZES = (16, 4096)


class PosmapLayout(Protocol):
    """What :func:`check_posmaps` needs of a :class:`prnet.uv.layout.UVLayout`."""

    face_index: np.ndarray

    def landmarks(self, posmap: np.ndarray) -> np.ndarray: ...


def _face_bounds(maps: np.ndarray, face_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, 3) minimum and maximum x, y, z over the face texels of each map (gathered, then
    reduced along a contiguous axis: 0.4 ms a face, against 4 ms for a strided reduction)."""
    v = np.take(maps.reshape(len(maps), -1, 3), face_index, axis=1)
    c = np.ascontiguousarray(v.transpose(0, 2, 1))
    return c.min(2), c.max(2)


def _short(value: Any, limit: int = 80) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(box: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in np.asarray(box, np.float64).ravel()) + "]"


def numbers(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array when it holds only real numbers (no strings, booleans or
    None).

    Raises:
        InvalidInputError: anything else, naming ``what`` and the value.
    """
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise InvalidInputError(f"{what}: not an array of numbers: {_short(value)}") from None
    if arr.dtype.kind not in "iuf":
        raise InvalidInputError(f"{what}: not numbers: {_short(value)}")
    return arr.astype(np.float64)


def box_problem(box: np.ndarray, image_shape: tuple[int, int] | None = None) -> str | None:
    """Why a (4,) float box ``x0, y0, x1, y1`` is unusable, or None (see the module's rules)."""
    if not np.isfinite(box).all():
        return "not finite"
    x0, y0, x1, y1 = (float(v) for v in box)
    if x0 > x1 or y0 > y1:
        return "not ordered (needs x0 < x1 and y0 < y1)"
    if min(x1 - x0, y1 - y0) < MIN_SIDE:
        return f"degenerate: {x1 - x0:.3g} x {y1 - y0:.3g} px (needs sides >= {MIN_SIDE:g} px)"
    if image_shape is None:
        return None
    h, w = int(image_shape[0]), int(image_shape[1])
    if max(x1 - x0, y1 - y0) > MAX_SIDE_FACTOR * max(h, w):
        return (f"too large for the {w}x{h} image (a side over {MAX_SIDE_FACTOR:g}x the image's "
                f"larger side)")
    if x1 <= -0.5 or y1 <= -0.5 or x0 >= w - 0.5 or y0 >= h - 0.5:
        return f"entirely outside the {w}x{h} image"
    return None


def check_boxes(boxes: Sequence[Any], image_shape: tuple[int, int] | None = None,
                what: str = "box") -> list[np.ndarray]:
    """Each box as a (4,) float32 array, checked (extra values after the 4th are ignored).

    Raises:
        InvalidInputError: a box that is not numbers or breaks a rule, naming its index and value.
    """
    out = []
    for i, b in enumerate(boxes):
        arr = numbers(b, f"{what} {i}")
        if arr.ndim != 1 or arr.size < 4:
            raise InvalidInputError(f"{what} {i}: expected [x0, y0, x1, y1], got {_short(b)}")
        problem = box_problem(arr[:4], image_shape)
        if problem:
            raise InvalidInputError(f"{what} {i} {_fmt(arr[:4])}: {problem}")
        out.append(arr[:4].astype(np.float32))
    return out


def check_landmarks(sets: Sequence[Any], image_shape: tuple[int, int] | None = None,
                    ) -> list[np.ndarray]:
    """Each landmark set as a (K, 2) float64 array of x, y, checked.

    Raises:
        InputShapeError: a set that is not (K ≥ 5, ≥ 2).
        InvalidInputError: not numbers, not finite, or the box of its points breaks a box rule.
    """
    out = []
    for i, k in enumerate(sets):
        arr = numbers(k, f"landmarks {i}")
        if arr.ndim != 2 or arr.shape[0] < 5 or arr.shape[1] < 2:
            raise InputShapeError(f"landmarks {i}: expected (K >= 5, 2) points, got shape "
                                  f"{arr.shape}; landmarks must have at least 5 points per face")
        xy = arr[:, :2]
        if not np.isfinite(xy).all():
            bad = int(np.flatnonzero(~np.isfinite(xy).all(1))[0])
            raise InvalidInputError(f"landmarks {i}: point {bad} {_fmt(xy[bad])} is not finite")
        problem = box_problem(np.r_[xy.min(0), xy.max(0)], image_shape)
        if problem:
            raise InvalidInputError(f"landmarks {i} (points' box {_fmt(np.r_[xy.min(0), xy.max(0)])})"
                                    f": {problem}")
        out.append(xy)
    return out


def check_size(name: str, value: Any, limits: tuple[int, int] = TEXTURE_SIZES) -> int:
    """``value`` as an int within ``limits`` (inclusive).

    Raises:
        InvalidInputError: not an integer, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"{name} must be an integer, got {_short(value)}")
    if not limits[0] <= int(value) <= limits[1]:
        raise InvalidInputError(f"{name} must lie in [{limits[0]}, {limits[1]}], got {value}")
    return int(value)


def check_finite(name: str, array: np.ndarray) -> None:
    """Refuse an array with NaN or infinite values.

    Raises:
        ReconstructionError: naming ``name`` and how many values are bad.
    """
    ok = np.isfinite(array)
    if not ok.all():
        raise ReconstructionError(f"{name}: {int(ok.size - np.count_nonzero(ok))} of {ok.size} "
                                  "values are not finite; nothing written")


def _crop_scale(matrices: np.ndarray) -> np.ndarray:
    """(F,) crop pixels per image pixel of each (2, 3) similarity."""
    return np.hypot(matrices[:, 0, 0], matrices[:, 1, 0])


def check_posmaps(posmaps: np.ndarray, crop_matrices: Sequence[np.ndarray],
                  layout: PosmapLayout) -> None:
    """Each image-space position map is a plausible face for its crop (see the module's rules).

    Args:
        posmaps: (F, 256, 256, 3) image-space maps.
        crop_matrices: the F (2, 3) image → crop similarities they were predicted from.
        layout: the UV layout (landmark texels, face texels).

    Raises:
        ReconstructionError: the first implausible face, by index in plan order.
    """
    maps = np.asarray(posmaps)
    if len(maps) == 0:
        return
    mats = np.asarray(crop_matrices, np.float64).reshape(len(maps), 2, 3)
    finite = np.isfinite(maps).reshape(len(maps), -1).all(1)
    for i in np.flatnonzero(~finite):
        check_finite(f"face {i}: position map", maps[i])
    s = _crop_scale(mats)
    kpt = layout.landmarks(maps)[..., :2]                        # (F, 68, 2)
    spread = np.ptp(kpt, axis=1) * s[:, None]                     # crop px
    lo, hi = _face_bounds(maps, layout.face_index)               # (F, 3) each
    extent = (hi - lo).max(1) * s / CROP                          # crop sides
    centre = (lo[:, :2] + hi[:, :2]) / 2
    centre_crop = np.einsum("fij,fj->fi", mats[:, :, :2], centre) + mats[:, :, 2]
    off = np.abs(centre_crop / CROP - 0.5).max(1)                 # 0.5: at the crop's border
    for i in range(len(maps)):
        if spread[i].min() < MIN_LANDMARK_SPREAD:
            raise ReconstructionError(
                f"face {i}: collapsed: its 68 landmarks span {spread[i, 0]:.3g} x "
                f"{spread[i, 1]:.3g} crop px (needs >= {MIN_LANDMARK_SPREAD:g}); broken weights?")
        if extent[i] > MAX_EXTENT_CROPS:
            raise ReconstructionError(
                f"face {i}: implausible: {extent[i]:.3g} crop sides across (max "
                f"{MAX_EXTENT_CROPS:g}); broken weights?")
        if off[i] > 1.5:
            raise ReconstructionError(
                f"face {i}: implausible: centred {off[i] - 0.5:.3g} crop sides outside its crop; "
                "broken weights?")
