"""The onnxruntime backend of stage 4 (crops → crop-space position maps).

:class:`OnnxPosmapNetwork` is a :class:`~prnet.pipeline.posmaps.PosmapNetwork` whose ``forward``
runs an ONNX file in onnxruntime on the CPU (batching and flip TTA are inherited unchanged).
:func:`cached_onnx` exports the network on first use into ``$PRNET_CACHE/onnx`` (default
``~/.cache/prnet/onnx``), one file per model, weights sha256 and opset; a given file is checked
to be a position-map network (input ``crops``, output ``posmap``, both (B, 3, 256, 256)).

Backends (:data:`BACKENDS`): "auto" (the default: onnxruntime when it is installed and the run
is fp32 on the CPU — measured 2x faster there at batch 1, 1 thread, with the same dev figures —
else torch), "torch", "onnxruntime".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prnet.errors import PRNetError, WeightsError
from prnet.geometry.crop import CROP
from prnet.models.onnx_export import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, export_onnx
from prnet.models.onnx_runtime import (  # noqa: F401 (INSTALL_HINT, cache_dir, onnxruntime_available: API)
    INSTALL_HINT,
    cache_dir,
    cached,
    import_ort,
    onnxruntime_available,
    open_session,
)
from prnet.pipeline.options import BACKENDS
from prnet.pipeline.posmaps import PosmapNetwork
from prnet.uv.layout import UVLayout

# one session/cache implementation for the network and the detector (prnet.models.onnx_runtime)
_import_ort = import_ort


def resolve_backend(backend: str, device: str, precision: str) -> str:
    """"auto" → "onnxruntime" when installed and the run is fp32 on the CPU, else "torch";
    precision "int8" → "onnxruntime" (refused with "torch"); "onnxruntime" is checked to be
    usable for ``device`` and ``precision``.

    Raises:
        PRNetError: an unknown backend, onnxruntime not installed, onnxruntime asked for on
            CUDA or with a precision other than fp32 / int8, or int8 with torch (one line each).
    """
    if backend not in BACKENDS:
        raise PRNetError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if precision == "int8":
        if backend == "torch":
            raise PRNetError("precision int8 runs in onnxruntime: use --backend onnxruntime or "
                             "auto, or --precision fp32 with torch")
        if not onnxruntime_available():
            raise PRNetError(f"precision int8 needs onnxruntime: {INSTALL_HINT} (or use "
                             "--precision fp32)")
        backend = "onnxruntime"
    if backend == "auto":
        ok = device == "cpu" and precision == "fp32" and onnxruntime_available()
        return "onnxruntime" if ok else "torch"
    if backend == "onnxruntime":
        _import_ort()
        if device != "cpu":
            raise PRNetError(f"the onnxruntime backend runs on the CPU (got device {device}); "
                             "use --device cpu or --backend torch")
        if precision not in ("fp32", "int8"):
            raise PRNetError(f"the onnxruntime backend runs fp32 or int8 (got precision "
                             f"{precision}); use --precision fp32 or --backend torch")
    return backend


def cached_onnx(net: torch.nn.Module, model: str, weights_sha256: str,
                opset: int = DEFAULT_OPSET) -> Path:
    """The ONNX file of ``net`` in the cache, exported on first use (keyed by model name,
    weights sha256 and opset)."""
    return cached(model, weights_sha256, opset,
                  lambda path: export_onnx(net, path, model, weights_sha256, opset))


def open_runtime(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An onnxruntime CPU inference runner of a position-map ONNX file (``threads``: intra-op threads,
    default ``torch.get_num_threads()`` so that ``prnet --threads N`` applies).

    Raises:
        WeightsError: not a readable ONNX file, or not a position-map network (its input and
            output names and shapes), naming the file.
    """
    sess = open_session(path, threads)
    check_runtime(sess, path)
    return sess


def check_runtime(sess: Any, path: str | os.PathLike) -> None:
    """One input ``crops`` and one output ``posmap``, both float (B, 3, 256, 256).

    Raises:
        WeightsError: naming the file and what differs.
    """
    def sig(args: list) -> list[tuple[str, str, list]]:
        return [(a.name, a.type, list(a.shape)) for a in args]

    ins, outs = sig(sess.get_inputs()), sig(sess.get_outputs())

    def fits(args: list, name: str) -> bool:
        return (len(args) == 1 and args[0][0] == name and args[0][1] == "tensor(float)"
                and len(args[0][2]) == 4 and args[0][2][1:] == [3, CROP, CROP])

    if not (fits(ins, INPUT_NAME) and fits(outs, OUTPUT_NAME)):
        raise WeightsError(f"{path} is not a prnet position-map network: expected input "
                           f"{INPUT_NAME!r} and output {OUTPUT_NAME!r} float (B, 3, 256, 256), "
                           f"got inputs {ins} and outputs {outs}")


def onnx_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata entries of an ONNX file (empty when it has none)."""
    sess = open_runtime(path, threads=1)
    return dict(sess.get_modelmeta().custom_metadata_map)


class OnnxPosmapNetwork(PosmapNetwork):
    """Stage 4 through onnxruntime: the same ``__call__`` and ``forward`` as
    :class:`~prnet.pipeline.posmaps.PosmapNetwork` (batching, flip TTA) on the CPU in fp32.

    Args:
        path: the ONNX file (checked by :func:`open_runtime`).
        batch_size, flip, layout: as for :class:`~prnet.pipeline.posmaps.PosmapNetwork`.
        threads: onnxruntime intra-op threads (default: ``torch.get_num_threads()``).
    """

    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike, batch_size: int, flip: bool, layout: UVLayout,
                 threads: int | None = None) -> None:
        super().__init__(None, "cpu", "fp32", batch_size, flip, layout)  # type: ignore[arg-type]
        self.path = Path(path)
        self.runtime = open_runtime(path, threads)

    def input(self, crops: np.ndarray) -> np.ndarray:
        """(B, 256, 256, 3) uint8 RGB crops → the (B, 3, 256, 256) float32 input in [0, 1], in
        numpy: one pass, and no torch thread pool woken between onnxruntime's runs (on two
        cores the two pools' spinning threads slowed each run 2-3x)."""
        x = np.empty((len(crops), 3, CROP, CROP), np.float32)
        np.multiply(np.asarray(crops).transpose(0, 3, 1, 2), np.float32(1 / 255), out=x)
        return x

    @staticmethod
    def mirrored(x: np.ndarray) -> np.ndarray:
        """:meth:`input`'s output of the mirrored crops (contiguous, as onnxruntime wants)."""
        return np.ascontiguousarray(x[..., ::-1])

    def forward(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """One forward pass of a (B, 3, 256, 256) float input in [0, 1] (numpy, or a CPU
        tensor) → (B, 256, 256, 3) float32 maps."""
        if isinstance(x, torch.Tensor):
            x = x.detach().float().cpu().numpy()
        inp = np.ascontiguousarray(x, dtype=np.float32)
        y = self.runtime.run([OUTPUT_NAME], {INPUT_NAME: inp})[0]
        return np.ascontiguousarray(y.transpose(0, 2, 3, 1), dtype=np.float32)

    def forward_tensor(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """:meth:`forward` as a (B, 256, 256, 3) float32 CPU tensor."""
        return torch.from_numpy(self.forward(x))
