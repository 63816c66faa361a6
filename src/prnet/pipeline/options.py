"""Model options: the one set of settings shared by :class:`prnet.PRN`, every CLI command and
the service (device, weights, detector, batch size, refinement, test-time augmentation,
precision)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from prnet.errors import PRNetError, WeightsError
from prnet.models.precision import INFERENCE_PRECISIONS

#: Test-time augmentation modes: network passes per face 1, 2 and 10.
TTA_MODES = ("off", "flip", "shift")

#: Stage-4 backends: torch, onnxruntime (CPU, fp32; ``pip install "prnet[onnx]"``), auto (the
#: default: onnxruntime when installed and the run is fp32 on the CPU, else torch).
BACKENDS = ("torch", "onnxruntime", "auto")


def _tta_mode(tta: bool | str) -> str:
    mode = ("flip" if tta else "off") if isinstance(tta, bool) else tta
    if mode not in TTA_MODES:
        raise PRNetError(f"tta must be one of {', '.join(TTA_MODES)} (or True/False), got {tta!r}")
    return mode


def _check_weights_path(weights: object) -> None:
    """A given weights path must name an existing file (checked without reading it)."""
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)) or not str(weights):
        raise WeightsError(f"weights must be a file path, got {weights!r}")
    if not os.path.isfile(weights):
        what = "is a folder, not a file" if os.path.isdir(weights) else "not found"
        raise WeightsError(f"weights file {what}: {weights}")


@dataclass(frozen=True)
class ModelOptions:
    """How a :class:`prnet.PRN` is built and runs.

    Attributes:
        model: registered network name or alias (``"fast"``: the 64²-output network); None: the
            bundled default.
        weights: safetensors file to use instead of the bundled weights.
        device: "cpu", "cuda", "cuda:1", … or "auto" (CUDA when available).
        detector: registered detector name (see :func:`prnet.detect.available_detectors`).
        batch_size: faces per network pass (None: 1 on the CPU, 16 on CUDA).
        refine: re-crop each face from its first-pass landmarks and run the network again.
        tta: test-time augmentation, one of :data:`TTA_MODES` (``True`` means "flip").
        precision: "fp32", or "bf16"/"fp16" autocast (see :class:`prnet.PRN`).
        backend: stage-4 runtime, one of :data:`BACKENDS` (see
            :mod:`prnet.pipeline.onnx_backend`).
        onnx: an ONNX file (from ``prnet export onnx``) to run instead of exporting the network
            into the cache; implies ``backend="onnxruntime"`` (unless that is "onnxruntime"
            already).

    Raises:
        PRNetError: a value of the wrong kind (checked here, before anything is loaded).
        WeightsError: ``weights`` given but not an existing file (its content is checked when
            the model loads).
    """

    model: str | None = None
    weights: str | os.PathLike | None = None
    device: str = "auto"
    detector: str = "blazeface"
    batch_size: int | None = None
    refine: bool = False
    tta: str = "off"
    precision: str = "fp32"
    backend: str = "auto"
    onnx: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tta", _tta_mode(self.tta))
        if self.precision not in INFERENCE_PRECISIONS:
            raise PRNetError(f"precision must be one of {', '.join(INFERENCE_PRECISIONS)}, "
                             f"got {self.precision!r}")
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or int(self.batch_size) < 1):
            raise PRNetError(f"batch_size must be >= 1, got {self.batch_size}")
        for name in ("device", "detector"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise PRNetError(f"{name} must be a non-empty name (a string), got {getattr(self, name)!r}")
        if self.model is not None and (not isinstance(self.model, str) or not self.model):
            raise PRNetError(f"model must be a network name (a string) or None, got {self.model!r}")
        if self.model is not None:
            from prnet.models import resolve_model_name

            object.__setattr__(self, "model", resolve_model_name(self.model))
        if isinstance(self.refine, str) or self.refine not in (True, False):
            raise PRNetError(f"refine must be True or False, got {self.refine!r}")
        object.__setattr__(self, "refine", bool(self.refine))
        _check_weights_path(self.weights)
        if self.backend not in BACKENDS:
            raise PRNetError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.onnx is not None:
            if not isinstance(self.onnx, (str, os.PathLike)) or not str(self.onnx):
                raise WeightsError(f"onnx must be a file path, got {self.onnx!r}")
            if not os.path.isfile(self.onnx):
                raise WeightsError(f"ONNX file not found: {self.onnx}")
            if self.backend in ("torch", "auto"):
                object.__setattr__(self, "backend", "onnxruntime")

    def replace(self, **changes: Any) -> ModelOptions:
        """A copy with ``changes`` applied (and checked)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The options as JSON-ready values (weights as a string)."""
        d = asdict(self)
        d["weights"] = None if self.weights is None else str(self.weights)
        d["onnx"] = None if self.onnx is None else str(self.onnx)
        return d

    @classmethod
    def from_namespace(cls, ns: Any, **overrides: Any) -> ModelOptions:
        """Options from an object with same-named attributes (an argparse namespace); attributes
        it lacks keep their defaults."""
        values = {f.name: getattr(ns, f.name) for f in fields(cls) if hasattr(ns, f.name)}
        return cls(**{**values, **overrides})
