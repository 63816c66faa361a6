"""The :class:`PRN` facade: the staged pipeline behind every front end.

Stages (each public, each used by ``reconstruct``, ``reconstruct_batch``, tracking/video,
``prnet bench`` and ``prnet eval``)::

    image ──detect──▶ [Detection] ──plan──▶ [FacePlan] ──crop──▶ CropBatch
          ──network──▶ crop-space maps ──uncrop──▶ image-space posmaps ──faces──▶ [FaceResult]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import torch

from prnet.detect import Detection, FaceDetector, available_detectors, get_detector
from prnet.errors import PRNetError
from prnet.io.image import read_image, to_rgb_uint8
from prnet.models.precision import effective_precision
from prnet.pipeline.onnx_backend import resolve_backend
from prnet.pipeline.options import ModelOptions
from prnet.pipeline.plan import (
    FacePlan,
    plan_boxes,
    plan_landmarks,
    replan_from_landmarks,
)
from prnet.pipeline.posmaps import CropBatch, PosmapNetwork, concat_batches, crop_faces, uncrop_maps
from prnet.pipeline.result import FaceResult, build_faces
from prnet.uv.layout import load_layout
from prnet.validation import check_boxes, check_posmaps

log = logging.getLogger(__name__)

ImageLike = str | os.PathLike | bytes | np.ndarray


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


def _check_precision(precision: str, device: str) -> str:
    if precision == "int8":
        if device != "cpu":
            raise PRNetError(f"precision int8 runs in onnxruntime on the CPU (got device {device}); "
                             "use --device cpu")
        return precision
    if effective_precision(device, precision) != precision:
        if precision == "fp16":
            raise PRNetError(f"precision fp16 needs a CUDA device (got {device}); on the CPU use bf16 "
                             "where the processor has it, or fp32")
        raise PRNetError(f"precision bf16 on {device}: this CPU has no native bf16 (AVX512-BF16 or AMX), "
                         "where it would be slower than fp32; use fp32")
    return precision


def _one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, at most 200 characters (for the "auto" fallback warnings)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]


class PRN:
    """Dense 3D face reconstruction and alignment (PRNet) with a bundled model and detector.

    Args:
        model: registered network name (default: the bundled model).
        weights: a safetensors file to use instead of the bundled weights.
        device: "cpu", "cuda", "cuda:1", … ("auto" picks CUDA when available).
        detector: detector name (see :func:`prnet.detect.available_detectors`) or an instance
            (e.g. :class:`prnet.detect.BoxesDetector` for precomputed boxes).
        batch_size: faces per network forward pass (default: 1 on the CPU, where larger batches
            are slower per face — measured 33 ms at batch 1 vs 70 ms/face at batch 8 — and 16 on
            CUDA).
        refine: re-crop each face from its first-pass landmarks and run the network again.
        tta: test-time augmentation, one of :data:`~prnet.pipeline.options.TTA_MODES` (``True``
            means "flip"): "flip" averages the position maps of each crop and of its mirror image
            (through the layout's symmetry map): 2 network passes, dev balanced 2D NME 3.37 → 3.29
            (GT crop); "shift" also averages four crops moved by ``TTA_SHIFT`` of their side (in
            image space): 10 passes, 3.23 (GT crop), detector crops 3.67 → 3.59 (flip) → 3.56.
        half: shorthand for ``precision="fp16"``.
        precision: "fp32" (default), or "fp16" / "bf16" autocast on CUDA, or "bf16" on a CPU
            with native bf16 (AVX512-BF16/AMX; measured on a 2-core AMD EPYC: network 2.5x
            faster, dev balanced 2D NME unchanged at 3.617). The mean-face residual is added in
            fp32, so positions keep full precision. "int8": the fast network's bundled int8
            ONNX file in onnxruntime on the CPU (``model="fast"``; about 1.4x faster network
            on one thread, dev 2D balanced NME +0.016; MODEL_CARD "Fast network").
        backend: stage-4 runtime: "auto" (default: onnxruntime when it is installed and the
            run is fp32 on the CPU, else torch; same dev figures, about 2x faster network on the
            CPU; should the export fail, torch with a one-line warning), "torch" or
            "onnxruntime" (CPU fp32, ``pip install "prnet[onnx]"``). The network is exported to
            ``$PRNET_CACHE/onnx`` on first use (offline, a few seconds).
        onnx: an ONNX file from ``prnet export onnx`` to run (implies backend "onnxruntime").
        options: all of the above as one :class:`~prnet.pipeline.options.ModelOptions` (then
            the other arguments must be left at their defaults).

    Raises:
        prnet.errors.WeightsError: no usable weights.
        prnet.errors.PRNetError: unknown model or detector name, or a bad option.
    """

    def __init__(self, model: str | None = None, weights: str | os.PathLike | None = None,
                 device: str = "auto", detector: str | FaceDetector = "blazeface",
                 batch_size: int | None = None, refine: bool = False, tta: bool | str = False,
                 half: bool = False, precision: str = "fp32", backend: str = "auto",
                 onnx: str | os.PathLike | None = None, *,
                 options: ModelOptions | None = None) -> None:
        from prnet.models.weights import load_model

        if options is None:
            name = detector if isinstance(detector, str) else detector.name
            options = ModelOptions(model=model, weights=weights, device=device, detector=name,
                                   batch_size=batch_size, refine=refine, tta=tta,
                                   precision="fp16" if half else precision,
                                   backend=backend, onnx=onnx)
        self.device = resolve_device(options.device)
        self.precision = _check_precision(options.precision, self.device)
        if options.batch_size is None:
            options = options.replace(batch_size=16 if self.device.startswith("cuda") else 1)
        self.options = options
        self.net = load_model(options.model, options.weights, self.device)
        self.layout = load_layout()
        self.backend = resolve_backend(options.backend, self.device, self.precision)
        self.network = self._posmap_network(options)
        self.detector: FaceDetector = (detector if not isinstance(detector, str)
                                       else self._face_detector(options))

    def _posmap_network(self, options: ModelOptions) -> PosmapNetwork:
        """Stage 4's callable for ``self.backend``: torch, or onnxruntime on the given ONNX
        file or on the network exported into the cache (keyed by the weights' sha256)."""
        flip = options.tta != "off"
        if self.backend == "torch":
            return PosmapNetwork(self.net, self.device, self.precision, options.batch_size, flip,
                                 self.layout)
        from prnet.pipeline.onnx_backend import OnnxPosmapNetwork, cached_onnx

        path = options.onnx
        if path is None and self.precision == "int8":
            from prnet.models.weights import int8_file

            path = int8_file(options.model, options.weights)
        try:
            if path is None:
                from prnet.models.weights import DEFAULT_MODEL, weights_sha256

                name = options.model or DEFAULT_MODEL
                path = cached_onnx(self.net, name, weights_sha256(name, options.weights))
            return OnnxPosmapNetwork(path, options.batch_size, flip, self.layout)
        except Exception as exc:
            if options.backend != "auto" or self.precision == "int8":
                raise
            log.warning("backend auto: onnxruntime unusable (%s); running the network in torch",
                        _one_line(exc))
            self.backend = "torch"
            return PosmapNetwork(self.net, self.device, self.precision, options.batch_size, flip,
                                 self.layout)

    def _face_detector(self, options: ModelOptions) -> FaceDetector:
        """Stage 2's detector, its networks on the network's backend (onnxruntime: about 4x
        faster on the CPU); torch when "auto" cannot export or open them."""
        if self.backend == "onnxruntime":
            try:
                return get_detector(options.detector, device=self.device, backend="onnxruntime")
            except Exception as exc:
                if options.backend == "onnxruntime" or options.detector not in available_detectors():
                    raise
                log.warning("backend auto: the detector runs in torch (%s)",
                            _one_line(exc))
        return get_detector(options.detector, device=self.device)

    # The run-time options can change on a live PRN (the network and detector stay loaded).
    @property
    def batch_size(self) -> int:
        return int(self.options.batch_size)

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.options = self.options.replace(batch_size=value)
        self.network.batch_size = int(value)

    @property
    def refine(self) -> bool:
        return self.options.refine

    @refine.setter
    def refine(self, value: bool) -> None:
        self.options = self.options.replace(refine=bool(value))

    @property
    def tta(self) -> str:
        return self.options.tta

    @tta.setter
    def tta(self, value: bool | str) -> None:
        self.options = self.options.replace(tta=value)
        self.network.flip = self.options.tta != "off"

    # ------------------------------------------------------------------ stages

    def detect(self, image: np.ndarray, key: str | os.PathLike | None = None) -> list[Detection]:
        """Stage 1: the faces the detector finds in an RGB uint8 image (``key``: its name)."""
        return self.detector.detect(image, key)

    def plan(self, detections: Sequence[Detection] = (), boxes: Sequence[Sequence[float]] = (),
             landmarks: Sequence[np.ndarray] = (), image_shape: tuple[int, int] | None = None,
             ) -> list[FacePlan]:
        """Stage 2: the crop of each face: detections (the detector's crop policy), then given
        boxes ``[x0, y0, x1, y1]``, then landmark sets ((K ≥ 5, ≥ 2) points).

        Every box and landmark set is checked here (:mod:`prnet.validation`): finite, ordered,
        at least 2 px a side and, when ``image_shape`` (height, width) is given, overlapping
        the image and under 20x its larger side (a box partly outside is kept as is).

        Raises:
            prnet.errors.InvalidInputError: a bad box or landmark set (its index and value).
            prnet.errors.InputShapeError: a landmark set that is not (K ≥ 5, ≥ 2).
        """
        given = [Detection(b, 1.0, None) for b in check_boxes(boxes, image_shape)]
        return (plan_boxes(detections, self.detector.crop_policy, image_shape=image_shape)
                + plan_boxes(given, source="box", image_shape=image_shape)
                + plan_landmarks(landmarks, image_shape=image_shape))

    def crop(self, image: np.ndarray, plans: Sequence[FacePlan]) -> CropBatch:
        """Stage 3: the network's input crops for ``plans`` (shifted views with ``tta="shift"``)."""
        return crop_faces(image, [p.crop_matrix for p in plans], self.tta)

    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """Stage 4: (B, 256, 256, 3) uint8 RGB crops → (B, 256, 256, 3) float32 position maps
        in crop pixels (flip TTA applied here)."""
        return self.network(crops)

    def uncrop(self, batch: CropBatch, maps: np.ndarray) -> np.ndarray:
        """Stage 5: crop-space maps of ``batch`` → one (256, 256, 3) image-space map per face,
        each checked to be a plausible face (:func:`prnet.validation.check_posmaps`).

        Raises:
            prnet.errors.ReconstructionError: a map that is not finite, collapsed or far larger
                than its crop (broken weights): the whole batch fails, nothing is returned.
        """
        posmaps = uncrop_maps(maps, batch.matrices, batch.views)
        check_posmaps(posmaps, batch.matrices[::batch.views], self.layout)
        return posmaps

    def posmaps(self, image: np.ndarray, plans: Sequence[FacePlan]) -> np.ndarray:
        """Stages 3-5: (F, 256, 256, 3) image-space position maps of the planned faces."""
        batch = self.crop(image, plans)
        return self.uncrop(batch, self.predict_crops(batch.crops))

    def replan(self, plans: Sequence[FacePlan], posmaps: np.ndarray) -> list[FacePlan]:
        """``refine``'s second crops: each face re-planned from its first-pass landmarks."""
        return replan_from_landmarks(plans, [self.layout.landmarks(p) for p in posmaps])

    def refined(self, image: np.ndarray, plans: Sequence[FacePlan],
                posmaps: np.ndarray) -> tuple[list[FacePlan], np.ndarray]:
        """The faces re-cropped from their first-pass landmarks, and their new position maps."""
        plans = self.replan(plans, posmaps)
        return plans, self.posmaps(image, plans)

    def faces(self, image: np.ndarray, plans: Sequence[FacePlan], posmaps: np.ndarray,
              order: str = "left_to_right") -> list[FaceResult]:
        """Stage 6: a :class:`FaceResult` per face (numbered left to right, or in plan order)."""
        return build_faces(image, plans, posmaps, self.layout, order)

    # ------------------------------------------------------------------ front doors

    def reconstruct(self, image: ImageLike, boxes: Sequence[Sequence[float]] | None = None,
                    landmarks: Sequence[np.ndarray] | None = None,
                    key: str | os.PathLike | None = None) -> list[FaceResult]:
        """Reconstruct every face in ``image`` (a path, encoded bytes or an RGB array).

        ``boxes`` ([x0, y0, x1, y1] per face) or ``landmarks`` ((K ≥ 5, 2) per face) skip the
        detector; ``key`` names the image for detectors that look faces up by name (precomputed
        boxes; a path ``image`` is its own key). Returns [] when no face is found.

        Raises:
            prnet.errors.ImageReadError: unreadable image.
            prnet.errors.InvalidInputError: a bad box or landmark set (see :meth:`plan`).
            prnet.errors.ReconstructionError: an implausible network output (see :meth:`uncrop`).
        """
        given = (None if boxes is None and landmarks is None
                 else [([] if boxes is None else boxes, [] if landmarks is None else landmarks)])
        return self.reconstruct_batch([image], None if key is None else [key], given)[0]

    def reconstruct_batch(self, images: Sequence[ImageLike],
                          keys: Sequence[str | os.PathLike | None] | None = None,
                          given: Sequence[tuple[Sequence, Sequence]] | None = None,
                          ) -> list[list[FaceResult]]:
        """:meth:`reconstruct` for many images, their faces through the network in one batch.

        Args:
            images: paths, encoded bytes or RGB arrays.
            keys: the images' names for the detector (default: the paths given as images).
            given: per image, ``(boxes, landmarks)`` to skip the detector (None: detect).

        Returns:
            Per image, its faces left to right.
        """
        imgs = [to_rgb_uint8(im) if isinstance(im, np.ndarray) else read_image(im) for im in images]
        if keys is None:
            keys = [im if isinstance(im, (str, os.PathLike)) else None for im in images]
        if given is None:
            dets = self.detector.detect_batch(imgs, keys)
            plans = [self.plan(d, image_shape=img.shape[:2]) for d, img in zip(dets, imgs, strict=True)]
        else:
            plans = [self.plan(boxes=b, landmarks=k, image_shape=img.shape[:2])
                     for (b, k), img in zip(given, imgs, strict=True)]
        posmaps = self.posmaps_batch(imgs, plans)
        if self.refine:
            plans = [self.replan(p, pm) for p, pm in zip(plans, posmaps, strict=True)]
            posmaps = self.posmaps_batch(imgs, plans)
        return [self.faces(img, p, pm) for img, p, pm in zip(imgs, plans, posmaps, strict=True)]

    def posmaps_batch(self, images: Sequence[np.ndarray],
                      plans: Sequence[Sequence[FacePlan]]) -> list[np.ndarray]:
        """:meth:`posmaps` of several images, all their faces through one batched network call
        (one (F, 256, 256, 3) array per image). The output check covers the whole call: one
        implausible map fails it (see :meth:`uncrop`)."""
        batches = [self.crop(img, p) for img, p in zip(images, plans, strict=True)]
        merged = concat_batches(batches)
        maps = self.uncrop(merged, self.predict_crops(merged.crops))
        return np.split(maps, np.cumsum([b.faces for b in batches])[:-1])
