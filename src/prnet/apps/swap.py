"""Texture editing and face swap (PRNet's ``demo_texture``), vectorised.

1. The reference face's texture is sampled into UV space (its position map tells where each
   texel lies in the reference photo); texels the reference face hides from the camera,
   shows only edge-on or too close to its silhouette are masked and, with ``fill="mirror"``, taken from the mirrored side
   of the face where that side is well seen.
2. Only the texels of the chosen region are used: the whole face (``"face"``), the eyes
   (``"eyes"``: ellipses around the eye landmarks' texels) or a user UV mask.
3. Optionally the reference texture's colours are matched to the source face's (median and
   interquartile spread per CIE LAB channel over the face texels both faces show).
4. The texture is rendered on the *source* face's geometry with a z-buffer (the source's
   vertices and triangles, the layout's texel coordinates), and
5. blended into the source photo with Poisson editing (``cv2.seamlessClone``, NORMAL_CLONE,
   centred on the bounding box of the rendered region).

Pixels outside the rendered region are never changed (the Poisson result is copied back only
inside it).

>>> faces = prn.reconstruct(img); ref = prn.reconstruct(ref_img)[0]      # doctest: +SKIP
>>> out = swap_faces(img, faces[0], ref_img, ref, mode="eyes")           # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from prnet.apps.texture import check_fill, texel_visibility, texture_coords
from prnet.errors import InputShapeError, PRNetError
from prnet.render import render_texture
from prnet.render.uv_texture import sample_uv
from prnet.uv.layout import RES, UVLayout

if TYPE_CHECKING:
    from prnet.pipeline import FaceResult

__all__ = [
    "SWAP_MODES",
    "SwapResult",
    "eyes_uv_mask",
    "fill_holes",
    "match_colors",
    "poisson_blend",
    "swap_all_faces",
    "swap_faces",
    "swap_faces_result",
    "uv_mask_for",
]

#: Named regions for ``mode`` (anything else must be a UV mask image or array).
SWAP_MODES = ("face", "eyes")
#: Landmark indices of the two eyes (68-point convention).
_EYES = (range(36, 42), range(42, 48))
#: Margin (pixels) around the blended region handed to ``cv2.seamlessClone``.
_MARGIN = 3
#: Reference texels seen more edge-on than this (normal z) are not used (smeared / background).
_MIN_FACING = 0.1
#: Reference texels closer than this × face size to its silhouette are not used (background).
_EDGE_MARGIN = 0.04
#: Fewest texels seen in both faces for a colour transfer.
_MIN_TEXELS = 64

Mode = str | os.PathLike | np.ndarray


@dataclass(frozen=True, eq=False)
class SwapResult:
    """What :func:`swap_faces_result` returns.

    Attributes:
        image: (H, W, 3) uint8 RGB, the edited source image.
        mask: (H, W) bool, pixels that were replaced (the only ones that may differ).
        coverage: fraction of the UV region's texels whose colour came from the reference
            (seen, or mirror-filled); the others keep the source's own colours. Low values
            mean a poor reference (e.g. a profile with ``fill="none"``).
        timings: seconds per stage (``visibility``, ``texture``, ``color``, ``render``,
            ``blend``, ``total``).
    """

    image: np.ndarray
    mask: np.ndarray
    coverage: float = 1.0
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- UV masks


def eyes_uv_mask(layout: UVLayout) -> np.ndarray:
    """(256, 256) bool: an ellipse around each eye's six landmark texels (lids included)."""
    vv, uu = np.mgrid[0:RES, 0:RES].astype(np.float32)
    mask = np.zeros((RES, RES), bool)
    for idx in _EYES:
        p = layout.kpt_uv[list(idx)].astype(np.float32)
        c = (p.min(0) + p.max(0)) / 2
        a = 0.5 * np.ptp(p[:, 0]) * 1.45 + 2.0
        b = 0.5 * np.ptp(p[:, 1]) * 2.2 + 3.0
        mask |= ((uu - c[0]) / a) ** 2 + ((vv - c[1]) / b) ** 2 <= 1.0
    return mask & layout.face_mask


def _read_mask(path: str | os.PathLike) -> np.ndarray:
    from prnet.io.image import read_image

    return read_image(path).mean(axis=2) > 127


def uv_mask_for(mode: Mode, layout: UVLayout) -> np.ndarray:
    """The (256, 256) bool UV region of a swap ``mode``.

    Args:
        mode: ``"face"`` (every face texel), ``"eyes"`` (:func:`eyes_uv_mask`), a path to a
            mask image (white = swap; any size, resampled to 256×256) or a (256, 256) array
            (non-zero = swap).
        layout: the UV layout.

    Raises:
        PRNetError: unknown mode name; ImageReadError: unreadable mask image;
        InputShapeError: an array of another shape.
    """
    if isinstance(mode, np.ndarray):
        m = np.asarray(mode)
        if m.shape != (RES, RES):
            raise InputShapeError(f"a UV mask must have shape (256, 256), got {m.shape}")
        return (m != 0) & layout.face_mask
    if isinstance(mode, str) and mode == "face":
        return layout.face_mask.copy()
    if isinstance(mode, str) and mode == "eyes":
        return eyes_uv_mask(layout)
    p = Path(mode)
    if not (isinstance(mode, os.PathLike) or p.suffix or p.exists()):
        raise PRNetError(f"mode must be 'face', 'eyes' or a UV mask image, got {mode!r}")
    m = _read_mask(p)
    if m.shape != (RES, RES):
        m = cv2.resize(m.astype(np.uint8), (RES, RES), interpolation=cv2.INTER_NEAREST) > 0
    return m & layout.face_mask


# --------------------------------------------------------------------------- colour


def match_colors(texture: np.ndarray, target: np.ndarray, stats_mask: np.ndarray) -> np.ndarray:
    """Shift ``texture``'s colours to ``target``'s: per-channel centre and spread in CIE LAB.

    The centre is the median and the spread the interquartile range (robust versions of the
    mean / std transfer of Reinhard et al. 2001).

    Args:
        texture: (H, W, 3) float32 RGB in [0, 1] to recolour.
        target: (H, W, 3) float32 RGB in [0, 1] whose statistics to match.
        stats_mask: (H, W) bool, texels used for the statistics of both.

    Returns:
        (H, W, 3) float32 RGB in [0, 1] (``texture`` unchanged when fewer than 64 texels).
    """
    if int(stats_mask.sum()) < _MIN_TEXELS:
        return texture
    lab_t = cv2.cvtColor(texture, cv2.COLOR_RGB2LAB)
    lab_g = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)
    # Robust statistics (median, interquartile spread): make-up, glasses or a strand of hair
    # on either face should not shift or squash the colours of the whole skin.
    qa = np.percentile(lab_t[stats_mask], [25, 50, 75], axis=0)
    qb = np.percentile(lab_g[stats_mask], [25, 50, 75], axis=0)
    gain = np.clip((qb[2] - qb[0]) / np.maximum(qa[2] - qa[0], 1e-3), 0.5, 2.0)
    lab = (lab_t - qa[1]) * gain + qb[1]
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB), 0.0, 1.0)


def fill_holes(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the pixels of ``image`` where ``known`` is False smoothly from the known ones
    (push-pull: masked averages down an image pyramid, then back up).

    Args:
        image: (H, W, C) float32.
        known: (H, W) bool.

    Returns:
        (H, W, C) float32; known pixels are unchanged. All zeros if nothing is known.
    """
    if known.all() or not known.any():
        return image if known.any() else np.zeros_like(image)
    w = known.astype(np.float32)
    levels = [(image * w[..., None], w)]
    while min(levels[-1][1].shape) > 1 and (levels[-1][1] <= 0).any():
        c, ww = levels[-1]
        size = (max(1, c.shape[1] // 2), max(1, c.shape[0] // 2))
        c2 = cv2.resize(c, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
        levels.append((c2, cv2.resize(ww, size, interpolation=cv2.INTER_AREA)))
    c, ww = levels[-1]
    filled = c / np.maximum(ww, 1e-12)[..., None]
    for c, ww in reversed(levels[:-1]):
        up = cv2.resize(filled, (c.shape[1], c.shape[0]), interpolation=cv2.INTER_LINEAR)
        up = up.reshape(c.shape)
        a = np.clip(ww, 0.0, 1.0)[..., None]  # partly known pixels mix in the coarser guess
        filled = np.where(ww[..., None] > 0, c / np.maximum(ww, 1e-12)[..., None], up)
        filled = a * filled + (1 - a) * up
    return np.where(known[..., None], image, filled).astype(np.float32)


# --------------------------------------------------------------------------- blending


def poisson_blend(image: np.ndarray, patch: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson-blend ``patch`` into ``image`` inside ``mask`` (``cv2.seamlessClone``, NORMAL_CLONE).

    Only the mask's bounding box (plus a small margin, reflected at the image border) is
    handed to OpenCV, centred so that nothing shifts; pixels outside ``mask`` are returned
    unchanged.

    Args:
        image: (H, W, 3) uint8 destination.
        patch: (H, W, 3) uint8 source (only its pixels inside ``mask`` matter).
        mask: (H, W) bool.

    Returns:
        (H, W, 3) uint8, a new array.
    """
    out = image.copy()
    if not mask.any():
        return out
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    m = _MARGIN
    pad = [cv2.copyMakeBorder(a, m, m, m, m, cv2.BORDER_REFLECT) for a in (image, patch)]
    dst = np.ascontiguousarray(pad[0][y : y + h + 2 * m, x : x + w + 2 * m])
    src = np.ascontiguousarray(pad[1][y : y + h + 2 * m, x : x + w + 2 * m])
    msk = np.zeros(dst.shape[:2], np.uint8)
    inside = mask[y : y + h, x : x + w]
    msk[m : m + h, m : m + w] = inside * np.uint8(255)
    # OpenCV puts the mask's bounding box at centre - (w // 2, h // 2): no shift this way.
    cloned = cv2.seamlessClone(src, dst, msk, (m + w // 2, m + h // 2), cv2.NORMAL_CLONE)
    roi = out[y : y + h, x : x + w]
    roi[inside] = cloned[m : m + h, m : m + w][inside]
    return out


# --------------------------------------------------------------------------- swap


def _check_image(img: np.ndarray, face: FaceResult, name: str) -> np.ndarray:
    a = np.asarray(img)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise InputShapeError(f"{name} must be RGB uint8 (H, W, 3), got {a.dtype} {a.shape}")
    if a.shape != face.image.shape:
        raise InputShapeError(
            f"{name} has shape {a.shape} but its face was reconstructed on {face.image.shape}"
        )
    return a


def swap_faces_result(
    source_img: np.ndarray,
    source_face: FaceResult,
    ref_img: np.ndarray,
    ref_face: FaceResult,
    mode: Mode = "face",
    color_transfer: bool = True,
    fill: str = "mirror",
    blend: str = "poisson",
) -> SwapResult:
    """Put ``ref_face``'s texture (or a region of it) on ``source_face``; see the module doc.

    Args:
        source_img: (H, W, 3) uint8 RGB to edit (``source_face.image``, or that image after
            earlier edits, e.g. when swapping several faces one after another).
        source_face: the face to replace, reconstructed on an image of ``source_img``'s size.
        ref_img: (H', W', 3) uint8 RGB the reference texture comes from.
        ref_face: the reference face, reconstructed on an image of ``ref_img``'s size.
        mode: ``"face"``, ``"eyes"``, a UV mask image path or a (256, 256) array.
        color_transfer: match the reference colours to the source face (LAB median / spread).
        fill: ``"mirror"`` fills texels the reference face hides (or shows edge-on) from
            its mirror side; ``"none"`` does not. Texels still unknown are filled smoothly
            from the known ones (:func:`fill_holes`).
        blend: ``"poisson"`` (seamless clone) or ``"none"`` (paste the rendering).

    Returns:
        A :class:`SwapResult`.

    Raises:
        InputShapeError: images that are not RGB uint8 or do not match their faces;
        PRNetError: bad ``mode``, ``fill`` or ``blend``.
    """
    t0 = time.perf_counter()
    check_fill(fill)
    if blend not in ("poisson", "none"):
        raise PRNetError(f"blend must be 'poisson' or 'none', got {blend!r}")
    src = _check_image(source_img, source_face, "source_img")
    ref = _check_image(ref_img, ref_face, "ref_img")
    layout = source_face.layout
    region = uv_mask_for(mode, layout)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    src_vis = texel_visibility(source_face)
    size_r = float(np.ptp(ref_face.landmarks[:, :2], axis=0).mean())
    xy_r, known_r, _ = texture_coords(
        ref_face, fill, min_facing=_MIN_FACING, margin=_EDGE_MARGIN * size_r
    )
    timings["visibility"] = time.perf_counter() - t

    t = time.perf_counter()
    use = region & known_r
    tex_s = sample_uv(src, source_face.posmap[..., :2], border="reflect")
    tex_r = sample_uv(ref, xy_r, border="reflect")
    tex_s = tex_s.astype(np.float32) / 255.0
    tex_r = tex_r.astype(np.float32) / 255.0
    timings["texture"] = time.perf_counter() - t

    t = time.perf_counter()
    if color_transfer:
        both = (layout.region >= 2) & src_vis & known_r
        tex_r = match_colors(tex_r, tex_s, both)
    timings["color"] = time.perf_counter() - t

    t = time.perf_counter()
    # Region texels the reference does not show are filled smoothly from those it does (a
    # hole in the region would pin the Poisson solution to the original there and leave a
    # patch). Outside the region the source's own colours make bilinear lookups at its edge
    # blend towards the source rather than towards black.
    tex_r = fill_holes(tex_r, use)
    tex = np.where(region[..., None], tex_r, tex_s) * 255.0
    tex4 = np.concatenate([tex, region[..., None].astype(np.float32)], axis=2)
    h, w = src.shape[:2]
    rendered, cover = render_texture(
        source_face.vertices,
        source_face.triangles,
        source_face.uv,
        tex4,
        h,
        w,
        raster=source_face.raster,
    )
    mask = cover & (rendered[..., 3] > 0.5)
    patch = np.clip(np.rint(rendered[..., :3]), 0, 255).astype(np.uint8)
    timings["render"] = time.perf_counter() - t

    t = time.perf_counter()
    if blend == "poisson":
        out = poisson_blend(src, patch, mask)
    else:
        out = src.copy()
        out[mask] = patch[mask]
    timings["blend"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    coverage = float(use.sum()) / max(int(region.sum()), 1)
    return SwapResult(out, mask, coverage, timings)


def swap_faces(
    source_img: np.ndarray,
    source_face: FaceResult,
    ref_img: np.ndarray,
    ref_face: FaceResult,
    **options: Any,
) -> np.ndarray:
    """:func:`swap_faces_result` (same options: ``mode``, ``color_transfer``, ``fill``,
    ``blend``) returning only the (H, W, 3) uint8 image."""
    return swap_faces_result(source_img, source_face, ref_img, ref_face, **options).image


def swap_all_faces(
    source_img: np.ndarray,
    source_faces: Sequence[FaceResult],
    ref_img: np.ndarray,
    ref_face: FaceResult,
    indices: Sequence[int] | None = None,
    **options,
) -> SwapResult:
    """Swap several faces of one image, one after another (options as :func:`swap_faces`).

    Args:
        indices: which of ``source_faces`` (default: all of them).

    Returns:
        A :class:`SwapResult` whose mask is the union of the replaced regions and whose
        timings are summed (the coverage depends on the reference only).

    Raises:
        PRNetError: an index out of range; others as :func:`swap_faces_result`.
    """
    n = len(source_faces)
    idx = range(n) if indices is None else list(indices)
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise PRNetError(f"face index {bad[0]} out of range: the source has {n} face(s)")
    out = np.asarray(source_img)
    mask = np.zeros(out.shape[:2], bool)
    timings: dict[str, float] = {}
    coverage = 0.0
    for i in idx:
        r = swap_faces_result(out, source_faces[i], ref_img, ref_face, **options)
        out, mask, coverage = r.image, mask | r.mask, r.coverage
        for k, v in r.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    return SwapResult(np.array(out, copy=True), mask, coverage, timings)
