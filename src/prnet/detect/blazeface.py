"""BlazeFace (MediaPipe face detection) in pure PyTorch, with bundled weights.

Two networks, converted from MediaPipe's ``face_detection_short_range`` (128×128 input, faces
that fill a good part of the frame) and ``face_detection_full_range`` (192×192, also small
faces) by ``scripts/convert_blazeface.py``. Post-processing follows the MediaPipe graphs: SSD
anchors with fixed size, box/keypoint decoding, sigmoid scores with a threshold, weighted NMS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prnet.detect.base import Detection, FaceDetector, check_image, sort_left_to_right
from prnet.detect.limits import (
    MAX_OUTSIDE,
    MIN_CORRELATION,
    MIN_FACE_SIZE,
    MIN_IMAGE_SIDE,
    image_too_small,
    plausible_boxes,
    structured,
)
from prnet.errors import PRNetError, WeightsError
from prnet.geometry.boxes import box_iou
from prnet.weights import WEIGHTS, WeightEntry, verified_path

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class BlazeFaceSpec:
    """One BlazeFace variant: its weights (an entry of :mod:`prnet.weights`), anchor layout and
    decoding options."""

    name: str
    weights: WeightEntry
    strides: tuple[int, ...]
    anchors_per_layer: int
    score_threshold: float
    iou_threshold: float = 0.3

    @property
    def file(self) -> str:
        return self.weights.file

    @property
    def input_size(self) -> int:
        return self.weights.input_size

    @property
    def sha256(self) -> str:
        return self.weights.sha256

    @property
    def licence(self) -> str:
        return self.weights.licence


SPECS: dict[str, BlazeFaceSpec] = {
    "short": BlazeFaceSpec(
        name="short",
        weights=WEIGHTS["blazeface_short"],
        strides=(8, 16, 16, 16),
        anchors_per_layer=2,
        score_threshold=0.5,
    ),
    "full": BlazeFaceSpec(
        name="full",
        weights=WEIGHTS["blazeface_full"],
        strides=(4,),
        anchors_per_layer=1,
        score_threshold=0.6,
    ),
}

# ------------------------------------------------------------------------------- networks


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad an NCHW tensor as TensorFlow 'SAME' does (the extra pixel goes after)."""
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad order: W then H
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


def _dw(channels: int, stride: int = 1, padding: int = 1) -> nn.Conv2d:
    """Depthwise 3×3 conv (``padding`` symmetric zero pixels)."""
    return nn.Conv2d(channels, channels, 3, stride, padding, groups=channels)


class _ShortBlock(nn.Module):
    """Depthwise 3×3 + pointwise, residual (max-pooled, channel-zero-padded), ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, cout - cin
        # Stride 1: TF 'SAME' is 1 pixel each side; stride 2: (0, 1), padded in forward.
        self.dw = _dw(cin, stride, padding=1 if stride == 1 else 0)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pw(self.dw(x if self.stride == 1 else pad_same(x, 3, 2)))
        if self.stride == 2:
            x = F.max_pool2d(pad_same(x, 2, 2), 2)
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra))
        return F.relu(x + h)


_SHORT_BLOCKS = [
    (24, 24, 1),
    (24, 28, 1),
    (28, 32, 2),
    (32, 36, 1),
    (36, 42, 1),
    (42, 48, 2),
    (48, 56, 1),
    (56, 64, 1),
    (64, 72, 1),
    (72, 80, 1),
    (80, 88, 1),
    (88, 96, 2),
    (96, 96, 1),
    (96, 96, 1),
    (96, 96, 1),
    (96, 96, 1),
]


class BlazeFaceShortNet(nn.Module):
    """Short-range BlazeFace: (N, 3, 128, 128) in [-1, 1] → regressors (N, 896, 16), logits
    (N, 896, 1). Anchors: 16×16 cells × 2, then 8×8 cells × 6 (row-major, anchor fastest)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 5, 2)
        self.blocks = nn.ModuleList(_ShortBlock(*b) for b in _SHORT_BLOCKS)
        # Heads named by stride, as in the TFLite graph: s8 on the 16×16 map, s16 on 8×8.
        self.cls_s8 = nn.Conv2d(88, 2, 1)
        self.cls_s16 = nn.Conv2d(96, 6, 1)
        self.reg_s8 = nn.Conv2d(88, 32, 1)
        self.reg_s16 = nn.Conv2d(96, 96, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.stem(pad_same(x, 5, 2)))
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 10:
                s8 = x
        n = x.shape[0]
        reg = torch.cat([_flat(self.reg_s8(s8), n, 16), _flat(self.reg_s16(x), n, 16)], 1)
        cls = torch.cat([_flat(self.cls_s8(s8), n, 1), _flat(self.cls_s16(x), n, 1)], 1)
        return reg, cls


def _flat(x: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """NCHW head output → (N, H·W·anchors, k) in TFLite (NHWC) order."""
    return x.permute(0, 2, 3, 1).reshape(n, -1, k)


class _ResBlock(nn.Module):
    """Two depthwise-separable convs (bottleneck ``mid``) with a residual add, then ReLU."""

    def __init__(self, c: int, mid: int) -> None:
        super().__init__()
        self.dw1, self.pw1 = _dw(c), nn.Conv2d(c, mid, 1)
        self.dw2, self.pw2 = _dw(mid), nn.Conv2d(mid, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.pw1(self.dw1(x)))
        return F.relu(x + self.pw2(self.dw2(h)))


class _DownBlock(nn.Module):
    """Stride-2 depthwise-separable conv to ``mid``, then a second one to ``cout`` (no skip)."""

    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.dw1, self.pw1 = _dw(cin, 2), nn.Conv2d(cin, mid, 1)
        self.dw2, self.pw2 = _dw(mid), nn.Conv2d(mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.pw1(self.dw1(x)))
        return F.relu(self.pw2(self.dw2(h)))


def _stage(first: nn.Module | None, c: int, mid: int, n: int) -> nn.Sequential:
    return nn.Sequential(*([first] if first else []), *(_ResBlock(c, mid) for _ in range(n)))


class _Head(nn.Module):
    """Pointwise conv, stride-2 depthwise conv, then depth-to-space ×2 (48×48 cells)."""

    def __init__(self, cin: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.pw = nn.Conv2d(cin, 4 * k, 1)
        self.dw = _dw(4 * k, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(self.pw(x))
        n, _, h, w = y.shape
        # TF depth_to_space: channel (i·2 + j)·k + c → pixel (2h + i, 2w + j), channel c.
        y = y.view(n, 2, 2, self.k, h, w).permute(0, 3, 4, 1, 5, 2)
        return _flat(y.reshape(n, self.k, 2 * h, 2 * w), n, self.k)


class BlazeFaceFullNet(nn.Module):
    """Full-range BlazeFace: (N, 3, 192, 192) in [-1, 1] → regressors (N, 2304, 16), logits
    (N, 2304, 1); one anchor per cell of a 48×48 grid. Backbone plus a small top-down FPN."""

    def __init__(self) -> None:
        super().__init__()
        # Modules are declared in the order the TFLite graph runs them (the converter relies
        # on it to assign the weights).
        self.stem = nn.Conv2d(3, 32, 3, 2, 1)
        self.s96 = _stage(None, 32, 8, 2)
        self.s48 = _stage(_DownBlock(32, 16, 64), 64, 16, 2)
        self.lat48 = nn.Conv2d(64, 48, 1)
        self.s24 = _stage(_DownBlock(64, 32, 128), 128, 32, 2)
        self.lat24 = nn.Conv2d(128, 64, 1)
        self.s12 = _stage(_DownBlock(128, 48, 192), 192, 48, 2)
        self.lat12 = nn.Conv2d(192, 96, 1)
        self.s6 = _stage(_DownBlock(192, 96, 384), 384, 96, 3)
        self.top6 = nn.Conv2d(384, 96, 1)
        self.u12 = _stage(None, 96, 48, 2)
        self.top12 = nn.Conv2d(96, 64, 1)
        self.u24 = _stage(None, 64, 32, 2)
        self.top24 = nn.Conv2d(64, 48, 1)
        self.u48 = _stage(None, 48, 24, 1)
        self.cls = _Head(48, 1)
        self.reg = _Head(48, 16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.stem(x))
        c48 = self.s48(self.s96(x))
        c24 = self.s24(c48)
        c12 = self.s12(c24)
        y = self.s6(c12)
        y = self.u12(_up(F.relu(self.top6(y))) + F.relu(self.lat12(c12)))
        y = self.u24(_up(F.relu(self.top12(y))) + F.relu(self.lat24(c24)))
        y = self.u48(_up(F.relu(self.top24(y))) + F.relu(self.lat48(c48)))
        return self.reg(y), self.cls(y)


def _up(x: torch.Tensor) -> torch.Tensor:
    """Bilinear ×2 with half-pixel centres (TFLite RESIZE_BILINEAR, half_pixel_centers)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


NETS: dict[str, type[nn.Module]] = {"short": BlazeFaceShortNet, "full": BlazeFaceFullNet}


def weights_path(variant: str) -> Path:
    """Path of the bundled safetensors file of ``variant`` ('short' or 'full')."""
    return _spec(variant).weights.path


def load_net(variant: str, weights: str | Path | None = None, device: str = "cpu") -> nn.Module:
    """The ``variant`` network with its weights, in eval mode, float32, on ``device``.

    Raises:
        PRNetError: unknown variant. WeightsError: file missing, corrupt or not matching.
    """
    from safetensors.torch import load_file

    spec = _spec(variant)
    path = Path(weights) if weights is not None else verified_path(spec.weights)
    if not path.is_file():
        raise WeightsError(f"BlazeFace '{variant}' weights not found: {path}")
    net = NETS[variant]()
    try:
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        net.load_state_dict(state)
    except Exception as exc:  # safetensors and torch raise several types here
        raise WeightsError(f"cannot load BlazeFace '{variant}' weights {path}: {exc}") from exc
    return net.eval().to(device)


def _spec(variant: str) -> BlazeFaceSpec:
    if variant not in SPECS:
        raise PRNetError(f"unknown BlazeFace variant {variant!r}; valid: {sorted(SPECS)}")
    return SPECS[variant]


# ------------------------------------------------------------------------- pre/post-process


@dataclass(frozen=True)
class Letterbox:
    """Image → model-input mapping: ``x_in = x_img_edge * scale_x + off_x`` (edge coords)."""

    scale_x: float
    scale_y: float
    off_x: int
    off_y: int
    size: int

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) normalised model-input coords → image pixel coords (centres at ints)."""
        x = (xy[..., 0] * self.size - self.off_x) / self.scale_x - 0.5
        y = (xy[..., 1] * self.size - self.off_y) / self.scale_y - 0.5
        return np.stack([x, y], -1).astype(np.float32)


def letterbox(image: np.ndarray, size: int, margin: float = 0.0) -> tuple[np.ndarray, Letterbox]:
    """Fit ``image`` (RGB uint8) into a centred ``size``×``size`` square on black.

    Args:
        margin: extra black border on every side, as a fraction of the longer image side
            (shrinks the face, helps when it fills the whole image).

    Returns:
        (3, size, size) float32 in [-1, 1] (the network input, CHW; black is -1) and the
        mapping.
    """
    h, w = image.shape[:2]
    s = size / (max(h, w) * (1.0 + 2.0 * margin))
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    tensor = np.full((3, size, size), -1.0, np.float32)
    inside = tensor[:, oy : oy + nh, ox : ox + nw]
    np.multiply(resized.transpose(2, 0, 1), np.float32(1 / 127.5), out=inside)
    inside -= 1.0
    return tensor, Letterbox(nw / w, nh / h, ox, oy, size)


def ssd_anchors(input_size: int, strides: Sequence[int], per_layer: int) -> np.ndarray:
    """(A, 2) anchor centres in normalised input coords, MediaPipe SsdAnchorsCalculator order
    (consecutive layers with equal stride share a grid; offset 0.5; fixed anchor size 1)."""
    out, i = [], 0
    while i < len(strides):
        stride, n = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            n, i = n + per_layer, i + 1
        cells = math.ceil(input_size / stride)
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = (np.stack([xs, ys], -1).reshape(-1, 1, 2) + 0.5) / cells
        out.append(np.repeat(centres, n, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


def decode(
    reg: np.ndarray, logits: np.ndarray, anchors: np.ndarray, input_size: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs of one image → (boxes (K, 4) x0 y0 x1 y1, scores (K,), keypoints (K, 6, 2)),
    normalised input coords, only anchors whose sigmoid score reaches ``threshold``."""
    logits = np.clip(logits.reshape(-1).astype(np.float64), -100.0, 100.0)
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    keep = scores >= threshold
    reg, a, scores = reg[keep] / input_size, anchors[keep], scores[keep]
    centre = reg[:, 0:2] + a
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], 1)
    kps = reg[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
    return boxes, scores, kps


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each cluster (IoU with its best box > threshold) becomes the
    score-weighted mean of its boxes and keypoints, keeping the best score. Loops over the
    surviving detections only (the IoU matrix is computed once)."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, kps = boxes[order], scores[order], kps[order]
    iou = box_iou(boxes, boxes)
    left = np.ones(len(scores), bool)
    out_b, out_s, out_k = [], [], []
    for i in range(len(scores)):
        if not left[i]:
            continue
        members = left & (iou[i] > iou_threshold)
        members[i] = True
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_k.append((kps[members] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[i])
        left &= ~members
    if not out_s:
        return (
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, 6, 2), np.float32),
        )
    return np.stack(out_b), np.array(out_s, np.float32), np.stack(out_k)


# ------------------------------------------------------------------------------- detector


def overlap_min(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(M,) intersection of ``box`` (4,) with each of ``boxes`` (M, 4) over the smaller area."""
    lt, rb = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    areas = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(-1)
    smaller = np.minimum(np.clip(box[2:] - box[:2], 0, None).prod(), areas)
    return np.where(smaller > 0, inter / np.maximum(smaller, 1e-12), 0.0)


def merge_detections(
    kept: Sequence[Detection], new: Sequence[Detection], same_face: float = 0.5
) -> list[Detection]:
    """``kept`` plus each of ``new`` (best score first) that covers no face already kept
    (intersection over the smaller box below ``same_face``)."""
    out = list(kept)
    for det in sorted(new, key=lambda d: -d.score):
        if not out or overlap_min(det.box, np.stack([d.box for d in out])).max() < same_face:
            out.append(det)
    return out


@dataclass(frozen=True)
class Stage:
    """One pass of a BlazeFace network over each image.

    Attributes:
        variant: 'short' or 'full'.
        margin: black border on every side, as a fraction of the longer side (close-ups).
        tiles: run on n×n overlapping tiles (25 % overlap) instead of the whole image; 0 picks
            n from the image size (longer side // 512, at most 3), and the stage is skipped
            where that gives n < 2.
        fallback: run only on images in which the stages before found no face.
    """

    variant: str
    margin: float = 0.0
    tiles: int = 1
    fallback: bool = False

    def __post_init__(self) -> None:
        _spec(self.variant)  # raises PRNetError for an unknown variant
        if self.tiles < 0 or self.margin < 0:
            raise PRNetError(f"Stage: tiles and margin must be >= 0, got {self}")

    def grid(self, h: int, w: int) -> int:
        """Tiles per side for an h×w image (0: skip this stage for it)."""
        if self.tiles:
            return self.tiles
        n = min(3, max(h, w) // 512)
        return n if n >= 2 else 0


#: Chosen by measurement (research/detector_recall.py): short and full range on every image
#: (full range finds the smaller faces; short-range boxes win where both find a face), then,
#: where nothing was found, short range with a 25 % margin (faces that fill the image).
DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("short"),
    Stage("full"),
    Stage("short", margin=0.25, fallback=True),
)
#: :data:`DEFAULT_STAGES` plus full range on 2×2 / 3×3 tiles of images ≥ 1024 px (small
#: faces in large group photos; up to 9 more passes on such images).
TILED_STAGES: tuple[Stage, ...] = (*DEFAULT_STAGES[:2], Stage("full", tiles=0), DEFAULT_STAGES[2])
#: Short range, then full range and the margin pass only where nothing was found: about half
#: the time on single-face photos (AFLW2000-3D dev 31.6 → 14.4 ms/img, 1 thread) with the same
#: images found, but small faces next to a large one are missed (research/detector_recall.py:
#: faces found in 3×3 / 6×6 mosaics of dev images 0.815 / 0.215 → 0.769 / 0.061), so it is not
#: the default.
FAST_STAGES: tuple[Stage, ...] = (
    Stage("short"),
    Stage("full", fallback=True),
    Stage("short", margin=0.25, fallback=True),
)
SHORT_STAGES: tuple[Stage, ...] = (Stage("short"),)
FULL_STAGES: tuple[Stage, ...] = (Stage("full"),)


def _independent_groups(stages: Sequence[Stage]) -> list[list[Stage]]:
    """``stages`` cut into runs that need no result of each other: consecutive non-fallback
    stages together, each fallback stage alone."""
    groups: list[list[Stage]] = []
    for st in stages:
        if groups and not st.fallback and not groups[-1][-1].fallback:
            groups[-1].append(st)
        else:
            groups.append([st])
    return groups


def _tile_offsets(h: int, w: int, n: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, tile_w, tile_h) of an n×n grid of tiles overlapping by 25 %."""
    th, tw = min(h, math.ceil(h / n * 1.25)), min(w, math.ceil(w / n * 1.25))
    ys = [round(r * (h - th) / (n - 1)) for r in range(n)] if n > 1 else [0]
    xs = [round(c * (w - tw) / (n - 1)) for c in range(n)] if n > 1 else [0]
    return [(x, y, tw, th) for y in ys for x in xs]


class BlazeFaceDetector(FaceDetector):
    """BlazeFace on arbitrary RGB images, as a sequence of :class:`Stage` passes whose
    detections are merged (earlier stages win where two find the same face).

    Args:
        stages: the passes, in order (default :data:`DEFAULT_STAGES`); a bare variant name
            stands for ``Stage(name)``.
        device: torch device for the networks.
        score_threshold: overrides each variant's MediaPipe default (0.5 short, 0.6 full).
        iou_threshold: overrides the weighted-NMS suppression IoU (MediaPipe: 0.3).
        batch_size: network inputs per forward pass.
        min_face_size: detections whose box is shorter than this on a side (px of the image)
            are dropped (:data:`prnet.detect.limits.MIN_FACE_SIZE`; 0 keeps all).
        min_image_side: images shorter than this on a side give no face
            (:data:`prnet.detect.limits.MIN_IMAGE_SIDE`; 0: no limit).
        max_outside: detections with more than this fraction of their box outside the image
            are dropped (:data:`prnet.detect.limits.MAX_OUTSIDE`; inf keeps all).
        min_correlation: detections whose box holds noise (neighbouring-pixel correlation
            below this) are dropped (:data:`prnet.detect.limits.MIN_CORRELATION`; -inf keeps
            all).

    Raises:
        PRNetError: no stage or unknown variant. WeightsError: weights missing or corrupt.
    """

    def __init__(
        self,
        stages: Sequence[Stage | str] = DEFAULT_STAGES,
        device: str = "cpu",
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        batch_size: int = 32,
        name: str = "blazeface",
        min_face_size: float = MIN_FACE_SIZE,
        min_image_side: int = MIN_IMAGE_SIDE,
        max_outside: float = MAX_OUTSIDE,
        min_correlation: float = MIN_CORRELATION,
        backend: str = "torch",
    ) -> None:
        self.stages = tuple(Stage(st) if isinstance(st, str) else st for st in stages)
        if not self.stages:
            raise PRNetError("BlazeFaceDetector needs at least one stage")
        variants = dict.fromkeys(st.variant for st in self.stages)
        self.name = name
        self.device = torch.device(device)
        if backend not in ("torch", "onnxruntime"):
            raise PRNetError(f"detector backend must be torch or onnxruntime, got {backend!r}")
        self.backend = backend
        threads = torch.get_num_threads()
        #: run independent stages (short and full range) at once, one core each: onnxruntime
        #: with two threads or more (BlazeFace's two networks: 2.9 vs 4.2 ms, 2 cores)
        self.parallel = backend == "onnxruntime" and threads >= 2 and len(variants) > 1
        self._pool: ThreadPoolExecutor | None = None
        self.nets = {v: (_OrtNet(v, 1 if self.parallel else threads)
                         if backend == "onnxruntime" else _TorchNet(v, device))
                     for v in variants}
        self.anchors = {
            v: ssd_anchors(SPECS[v].input_size, SPECS[v].strides, SPECS[v].anchors_per_layer)
            for v in variants
        }
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.batch_size = max(1, int(batch_size))
        self.min_face_size = float(min_face_size)
        self.min_image_side = int(min_image_side)
        self.max_outside = float(max_outside)
        self.min_correlation = float(min_correlation)

    def detect(self, image: np.ndarray, key: object = None) -> list[Detection]:
        """All faces in ``image`` (RGB uint8 (H, W, 3)), sorted left to right; [] if none
        (``key``, the image's name, is not needed).

        Raises:
            InputShapeError: if ``image`` is not RGB uint8 (H, W, 3).
        """
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray], keys: object = None) -> list[list[Detection]]:
        """:meth:`detect` for many images, batched through the networks (``keys`` unused).

        Raises:
            InputShapeError: if an image is not RGB uint8 (H, W, 3).
        """
        for k, image in enumerate(images):
            check_image(image, f"images[{k}]")
        results: list[list[Detection]] = [[] for _ in images]
        for group in _independent_groups(self.stages):
            for found in self._map(lambda st: self._stage(st, images, results), group):
                for i, ds in found.items():
                    results[i] = merge_detections(results[i], ds)
        return [sort_left_to_right(r) for r in results]

    def _stage(self, stage: Stage, images: Sequence[np.ndarray],
               results: Sequence[list[Detection]]) -> dict[int, list[Detection]]:
        """One stage's plausible detections per image index (image coordinates); a fallback
        stage skips the images with ``results``."""
        jobs = []  # (image index, x0, y0, crop)
        for i, im in enumerate(images):
            if (stage.fallback and results[i]) or image_too_small(im.shape, self.min_image_side):
                continue
            h, w = im.shape[:2]
            n = stage.grid(h, w)
            for x0, y0, tw, th in _tile_offsets(h, w, n) if n else []:
                jobs.append((i, x0, y0, im[y0 : y0 + th, x0 : x0 + tw]))
        found: dict[int, list[Detection]] = {}
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start : start + self.batch_size]
            dets = self._run([j[3] for j in chunk], stage.variant, stage.margin)
            for (i, x0, y0, _), ds in zip(chunk, dets):
                shift = np.array([x0, y0], np.float32)
                ds = self._plausible([_shifted(d, shift) for d in ds], images[i])
                found[i] = merge_detections(found.get(i, []), ds)
        return found

    def _map(self, fn: Callable[[Stage], dict[int, list[Detection]]],
             group: Sequence[Stage]) -> list[dict[int, list[Detection]]]:
        """``fn`` of each stage of an independent group, in order; with ``parallel``, the
        stages after the first run on a second thread meanwhile (onnxruntime and OpenCV
        release the GIL)."""
        if not self.parallel or len(group) < 2:
            return [fn(st) for st in group]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="prnet-detect")
        rest = [self._pool.submit(fn, st) for st in group[1:]]
        return [fn(group[0]), *(f.result() for f in rest)]

    def _plausible(self, dets: list[Detection], image: np.ndarray) -> list[Detection]:
        """``dets`` (coordinates of ``image``) without boxes below the minimum face size,
        mostly outside the image or on noise (see :mod:`prnet.detect.limits`)."""
        if not dets:
            return dets
        boxes = np.stack([d.box for d in dets])
        keep = plausible_boxes(boxes, image.shape, self.min_face_size, self.max_outside)
        if keep.any() and self.min_correlation > -np.inf:
            keep[keep] = structured(image, boxes[keep], self.min_correlation)
        return [d for d, k in zip(dets, keep) if k]

    @torch.inference_mode()
    def _run(
        self, crops: Sequence[np.ndarray], variant: str, margin: float
    ) -> list[list[Detection]]:
        """Detections (crop pixel coords) of one network on each crop."""
        spec, net, anchors = SPECS[variant], self.nets[variant], self.anchors[variant]
        boxed = [letterbox(np.ascontiguousarray(c), spec.input_size, margin) for c in crops]
        reg, cls = net(np.stack([b[0] for b in boxed]))
        thr = spec.score_threshold if self.score_threshold is None else self.score_threshold
        out = []
        for k, (_, lb) in enumerate(boxed):
            b, s, kp = decode(reg[k], cls[k], anchors, spec.input_size, thr)
            iou = spec.iou_threshold if self.iou_threshold is None else self.iou_threshold
            b, s, kp = weighted_nms(b, s, kp, iou)
            corners = lb.to_image(b.reshape(-1, 2, 2)).reshape(-1, 4)
            points = lb.to_image(kp)
            out.append([Detection(corners[j], float(s[j]), points[j]) for j in range(len(s))])
        return out


class _TorchNet:
    """A BlazeFace network in torch: (B, 3, S, S) float32 → (regressors, logits) as numpy."""

    def __init__(self, variant: str, device: str) -> None:
        self.net, self.device = load_net(variant, device=device), torch.device(device)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reg, cls = self.net(torch.from_numpy(np.ascontiguousarray(x)).to(self.device))
        return reg.float().cpu().numpy(), cls.float().cpu().numpy()


class _OrtNet:
    """The same network exported to ONNX (cached on first use) and run by onnxruntime on the
    CPU: about 4x faster than torch at batch 1 there (short 1.2 vs 4.6 ms, full 2.4 vs 10.9 ms,
    1 thread)."""

    def __init__(self, variant: str, threads: int | None = None) -> None:
        from prnet.models.onnx_runtime import cached_detector_onnx, open_session

        self.session = open_session(cached_detector_onnx(variant), threads)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reg, cls = self.session.run(["regressors", "logits"],
                                    {"image": np.ascontiguousarray(x, dtype=np.float32)})
        return reg, cls


def _shifted(det: Detection, shift: np.ndarray) -> Detection:
    """``det`` moved by ``shift`` (x, y) pixels (tile → image coordinates)."""
    if not shift.any():
        return det
    kps = None if det.keypoints is None else det.keypoints + shift
    return Detection(det.box + np.tile(shift, 2), det.score, kps)
