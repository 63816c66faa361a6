"""The PRN facade: image → faces → position maps → every PRNet output, lazily.

>>> from prnet import PRN                       # doctest: +SKIP
>>> faces = PRN().reconstruct("photo.jpg")      # doctest: +SKIP
>>> faces[0].landmarks.shape, faces[0].pose.yaw # doctest: +SKIP
((68, 3), 12.3)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
import torch

from prnet.detect import Detection, FaceDetector, get_detector
from prnet.errors import InputShapeError, PRNetError
from prnet.geometry.crop import (
    CROP,
    crop_matrix,
    shift_crop,
    square_from_box,
    square_from_landmarks,
    uncrop_points,
    warp_crop,
)
from prnet.geometry.frontalize import frontalize
from prnet.geometry.pose import Pose, estimate_pose
from prnet.io.image import read_image, to_rgb_uint8
from prnet.models.precision import PRECISIONS, autocast, effective_precision
from prnet.render import Raster, rasterize, render_depth, sample_bilinear, vertex_visibility
from prnet.uv.layout import RES, UVLayout, load_layout

log = logging.getLogger(__name__)

# Detector box → crop (PRNet's 1.58 / 0.14 were for dlib boxes). Fitted on the 400 AFLW2000-3D
# dev images so that BlazeFace crops match the landmark-box crops (scripts/calibrate_crop.py).
DETECTOR_CROP = {"scale": 1.49, "shift": 0.061}

#: Test-time augmentation modes of :class:`PRN`: network passes per face 1, 2 and 10.
TTA_MODES = ("off", "flip", "shift")
#: ``tta="shift"`` moves the crop window by this fraction of its side left, right, up and down.
TTA_SHIFT = 0.04

ImageLike = str | os.PathLike | bytes | np.ndarray


@dataclass(frozen=True, eq=False)
class FaceResult:
    """One reconstructed face. Arrays are in the input image's pixel coordinates (y down, z
    towards the viewer); costly outputs are computed on first access and cached.

    Attributes:
        index: position of the face in the image (left to right).
        box: (4,) x0, y0, x1, y1 of the detection (or of the given box / landmarks).
        score: detector confidence (1.0 for given boxes / landmarks).
        crop_matrix: (2, 3) similarity image → 256×256 network crop.
        posmap: (256, 256, 3) UV position map in image coordinates.
    """

    index: int
    box: np.ndarray
    score: float
    crop_matrix: np.ndarray
    posmap: np.ndarray
    image: np.ndarray = field(repr=False)
    layout: UVLayout = field(repr=False)

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    @cached_property
    def landmarks(self) -> np.ndarray:
        """(68, 3) 3D landmarks."""
        return self.layout.landmarks(self.posmap)

    @cached_property
    def vertices(self) -> np.ndarray:
        """(N, 3) dense vertices (the face texels of the UV map, N ≈ 55K)."""
        return self.layout.vertices(self.posmap)

    @property
    def triangles(self) -> np.ndarray:
        """(M, 3) triangles over :attr:`vertices` (fixed by the UV layout)."""
        return self.layout.triangles

    @property
    def uv(self) -> np.ndarray:
        """(N, 2) texel coordinates (u, v) of each vertex in a 256×256 UV texture."""
        return self.layout.face_uv

    @cached_property
    def colors(self) -> np.ndarray:
        """(N, 3) float32 RGB in [0, 1] sampled from the image at each vertex."""
        v = self.vertices
        return (sample_bilinear(self.image, v[:, 0], v[:, 1]) / 255.0).astype(np.float32)

    @cached_property
    def raster(self) -> Raster:
        """Z-buffer of the face mesh over the image."""
        h, w = self.image_shape
        return rasterize(self.vertices, self.triangles, h, w)

    @property
    def _tolerance(self) -> float:
        return max(1.0, 0.01 * float(np.ptp(self.landmarks[:, 0])))

    @cached_property
    def visibility(self) -> np.ndarray:
        """(N,) bool: vertex seen by the camera (z-buffer test, no self-occlusion)."""
        h, w = self.image_shape
        return vertex_visibility(self.vertices, self.triangles, h, w, self._tolerance, raster=self.raster)

    @cached_property
    def landmark_visibility(self) -> np.ndarray:
        """(68,) bool: landmark not hidden by the face itself.

        Inner landmarks (brows, eyes, nose, mouth) use the z-buffer (hidden when the surface at
        their pixel is nearer by more than 2 % of the face width). The 17 jaw points are outline
        points: the BFM's fixed jaw vertices often sit under the cheek's silhouette even in a
        frontal view, so a z-buffer test would hide them; instead a jaw point counts as visible
        while it is on the camera's side of the head: its direction from the head's centre
        (the UV unwrap centre of the canonical face), turned by the fitted pose, points towards
        the camera.
        """
        h, w = self.image_shape
        k = self.landmarks
        tol = max(1.0, 0.02 * float(np.ptp(k[:, 0])))
        pts = np.concatenate([self.vertices, k])
        vis = vertex_visibility(pts, self.triangles, h, w, tol, raster=self.raster)[-68:]
        d = (self.layout.canonical_kpt[:17] - self.layout.head_centre) @ self.pose.rotation.T
        vis[:17] = d[:, 2] > 0
        return vis

    @cached_property
    def pose(self) -> Pose:
        """Head pose from a similarity fit of all vertices to the canonical face."""
        return estimate_pose(self.vertices, self.layout.canonical)

    @cached_property
    def frontal_vertices(self) -> np.ndarray:
        """(N, 3) the face's own shape with pose removed, in the canonical y-up frame."""
        return frontalize(self.vertices, self.layout.canonical)

    def depth(self, normalize: bool = True) -> np.ndarray:
        """(H, W) depth image of the face (0 background; normalised to [0, 1] by default)."""
        h, w = self.image_shape
        return render_depth(self.vertices, self.triangles, h, w, normalize=normalize)

    def uv_texture(self, size: int = RES, mask_invisible: bool = False) -> np.ndarray:
        """(size, size, 3) uint8 UV texture sampled from the image (PRNet's texture map)."""
        xy = self.posmap[..., :2].astype(np.float32)
        if size != RES:
            xy = cv2.resize(xy, (size, size), interpolation=cv2.INTER_LINEAR)
        tex = cv2.remap(self.image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mask = np.zeros((RES, RES), np.float32)
        mask.ravel()[self.layout.face_index] = self.visibility if mask_invisible else 1.0
        if size != RES:
            mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
        return (tex * (mask[..., None] > 0.5)).astype(np.uint8)

    def to_dict(self) -> dict:
        """JSON-ready summary: box, score, landmarks, pose."""
        p = self.pose
        # float64 before rounding: float32 values would print as 177.33999633789062 in JSON
        return {"index": self.index, "box": np.asarray(self.box, np.float64).round(2).tolist(),
                "score": round(float(self.score), 4),
                "landmarks": np.asarray(self.landmarks, np.float64).round(2).tolist(),
                "pose": {"yaw": round(p.yaw, 3), "pitch": round(p.pitch, 3), "roll": round(p.roll, 3),
                         "camera_matrix": p.camera_matrix.round(6).tolist()}}


def resolve_device(device: str) -> str:
    """"auto" → "cuda" when available else "cpu"; any other name is checked.

    Raises:
        PRNetError: not a torch device name, or CUDA asked for but not available.
    """
    device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise PRNetError(f"device {device}: {exc}") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PRNetError(f"device {device}: CUDA is not available (torch {torch.__version__}); use cpu")
    return device


def _check_tta(tta: bool | str) -> str:
    mode = ("flip" if tta else "off") if isinstance(tta, bool) else tta
    if mode not in TTA_MODES:
        raise PRNetError(f"tta must be one of {', '.join(TTA_MODES)} (or True/False), got {tta!r}")
    return mode


def _tta_offsets(tta: str) -> np.ndarray:
    """(K, 2) crop-window shifts in crop pixels: the centre alone, or the centre and 4 neighbours."""
    if tta != "shift":
        return np.zeros((1, 2))
    return TTA_SHIFT * (CROP - 1) * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], np.float64)


def _check_precision(precision: str, device: str) -> str:
    if precision not in PRECISIONS:
        raise PRNetError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if effective_precision(device, precision) != precision:
        if precision == "fp16":
            raise PRNetError(f"precision fp16 needs a CUDA device (got {device}); on the CPU use bf16 "
                             "where the processor has it, or fp32")
        raise PRNetError(f"precision bf16 on {device}: this CPU has no native bf16 (AVX512-BF16 or AMX), "
                         "where it would be slower than fp32; use fp32")
    return precision


class PRN:
    """Dense 3D face reconstruction and alignment (PRNet) with a bundled model and detector.

    Args:
        model: registered network name (default: the bundled model).
        weights: a safetensors file to use instead of the bundled weights.
        device: "cpu", "cuda", "cuda:1", … ("auto" picks CUDA when available).
        detector: detector name (see :func:`prnet.detect.available_detectors`) or an instance.
        batch_size: faces per network forward pass (default: 1 on the CPU, where larger batches
            are slower per face — measured 33 ms at batch 1 vs 70 ms/face at batch 8 — and 16 on
            CUDA).
        refine: re-crop each face from its first-pass landmarks and run the network again.
        tta: test-time augmentation, one of :data:`TTA_MODES` (``True`` means "flip"):
            "flip" averages the position maps of each crop and of its mirror image (through the
            layout's symmetry map): 2 network passes, dev balanced 2D NME 3.37 → 3.29 (GT crop);
            "shift" also averages four crops moved by ``TTA_SHIFT`` of their side (in image
            space): 10 passes, 3.23 (GT crop), detector crops 3.67 → 3.59 (flip) → 3.56.
        half: shorthand for ``precision="fp16"``.
        precision: "fp32" (default), or "fp16" / "bf16" autocast on CUDA, or "bf16" on a CPU
            with native bf16 (AVX512-BF16/AMX; measured on a 2-core AMD EPYC: network 2.5x
            faster, dev balanced 2D NME unchanged at 3.617). The mean-face residual is added in
            fp32, so positions keep full precision.

    Raises:
        prnet.errors.WeightsError: no usable weights.
        prnet.errors.PRNetError: unknown model or detector name.
    """

    def __init__(self, model: str | None = None, weights: str | os.PathLike | None = None,
                 device: str = "auto", detector: str | FaceDetector = "blazeface",
                 batch_size: int | None = None, refine: bool = False, tta: bool | str = False,
                 half: bool = False, precision: str = "fp32") -> None:
        from prnet.models.weights import load_model

        self.device = resolve_device(device)
        if batch_size is None:
            batch_size = 16 if self.device.startswith("cuda") else 1
        if batch_size < 1:
            raise PRNetError(f"batch_size must be >= 1, got {batch_size}")
        self.net = load_model(model, weights, self.device)
        self.precision = _check_precision("fp16" if half else precision, self.device)
        self._detector_spec = detector
        self._detector: FaceDetector | None = detector if not isinstance(detector, str) else None
        self.batch_size = batch_size
        self.refine = refine
        self.tta = _check_tta(tta)
        self.layout = load_layout()

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = get_detector(str(self._detector_spec), device=self.device)
        return self._detector

    @torch.inference_mode()
    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """(B, 256, 256, 3) uint8 RGB crops → (B, 256, 256, 3) float32 position maps (crop pixels).

        Flip TTA applies here; the crop shifts of ``tta="shift"`` need the image (:meth:`posmaps_for`).
        """
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (CROP, CROP, 3):
            raise InputShapeError(f"crops must be (B, 256, 256, 3) uint8, got {crops.shape}")
        out = []
        for i in range(0, len(crops), self.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(crops[i : i + self.batch_size])).to(self.device)
            x = x.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=torch.channels_last)
            pm = self._forward(x)
            if self.tta != "off":
                pm = (pm + self.layout.mirror_posmap(self._forward(x.flip(3)), CROP)) / 2
            out.append(pm)
        return np.concatenate(out) if out else np.zeros((0, CROP, CROP, 3), np.float32)

    def _forward(self, x: torch.Tensor) -> np.ndarray:
        with autocast(self.device, self.precision):
            y = self.net(x)
        return y.float().permute(0, 2, 3, 1).cpu().numpy()

    def crops_for(self, boxes: Sequence[np.ndarray] = (),
                  landmarks: Sequence[np.ndarray] = ()) -> list[np.ndarray]:
        """Crop matrices for detector boxes and/or landmark sets (≥ 5 points each)."""
        mats = [crop_matrix(*square_from_box(b, DETECTOR_CROP["scale"], DETECTOR_CROP["shift"])) for b in boxes]
        mats += [crop_matrix(*square_from_landmarks(np.asarray(k))) for k in landmarks]
        return mats

    def reconstruct(self, image: ImageLike, boxes: Sequence[Sequence[float]] | None = None,
                    landmarks: Sequence[np.ndarray] | None = None) -> list[FaceResult]:
        """Reconstruct every face in ``image`` (a path, encoded bytes or an RGB array).

        ``boxes`` ([x0, y0, x1, y1] per face) or ``landmarks`` ((K ≥ 5, 2) per face) skip the
        detector. Returns [] when no face is found.

        Raises:
            prnet.errors.ImageReadError: unreadable image.
        """
        img = read_image(image) if not isinstance(image, np.ndarray) else to_rgb_uint8(image)
        if boxes is None and landmarks is None:
            dets = self.detector.detect(img)
        else:
            dets = [Detection(np.asarray(b, np.float32)[:4], 1.0, None) for b in (boxes or [])]
        kps = [np.asarray(k, np.float64)[:, :2] for k in (landmarks or [])]
        if any(len(k) < 5 for k in kps):
            raise InputShapeError("landmarks must have at least 5 points per face")
        mats = self.crops_for([d.box for d in dets], kps)
        boxes_all = [d.box for d in dets] + [np.r_[k.min(0), k.max(0)].astype(np.float32) for k in kps]
        scores = [d.score for d in dets] + [1.0] * len(kps)
        posmaps = self.posmaps_for(img, mats)
        if self.refine and mats:
            mats = [crop_matrix(*square_from_landmarks(self.layout.landmarks(p))) for p in posmaps]
            posmaps = self.posmaps_for(img, mats)
        order = np.argsort([b[0] + b[2] for b in boxes_all], kind="stable")  # left to right
        return [FaceResult(j, np.asarray(boxes_all[i], np.float32), float(scores[i]), mats[i], posmaps[i],
                           img, self.layout)
                for j, i in enumerate(order)]

    def posmaps_for(self, img: np.ndarray, mats: Sequence[np.ndarray]) -> list[np.ndarray]:
        """(256, 256, 3) image-space position map for each crop matrix of ``img``, with every
        TTA mode applied (averaged over the shifted crops of ``tta="shift"``)."""
        if not mats:
            return []
        shifted, crops = self._tta_crops(img, mats)
        return self._merge_tta(self.predict_crops(crops), shifted)

    def _tta_crops(self, img: np.ndarray, mats: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """The crop matrices the network sees for ``mats`` (face-major, one per TTA shift) and
        the (K, 256, 256, 3) crops."""
        shifted = [shift_crop(m, o) for m in mats for o in _tta_offsets(self.tta)]
        return shifted, np.stack([warp_crop(img, m) for m in shifted])

    def _merge_tta(self, pms: np.ndarray, shifted: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Crop-space maps of :meth:`_tta_crops`'s crops → one image-space map per face."""
        k = len(_tta_offsets(self.tta))
        pts = np.stack([uncrop_points(p, m) for p, m in zip(pms, shifted, strict=True)])
        return list(pts.reshape(len(pts) // k, k, *pts.shape[1:]).mean(1))
