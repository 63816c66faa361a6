"""onnxruntime sessions shared by the position-map network and the face detector: the import
with its one-line install hint, the export cache (``$PRNET_CACHE/onnx``, default
``~/.cache/prnet/onnx``) and CPU session options that follow ``prnet --threads``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from prnet.errors import PRNetError, WeightsError

INSTALL_HINT = 'pip install "prnet[onnx]"'


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def import_ort() -> Any:
    """The ``onnxruntime`` module.

    Raises:
        PRNetError: it is not installed (one line naming the extra and the torch fallback).
    """
    try:
        import onnxruntime
    except ImportError:
        raise PRNetError(f"the onnxruntime backend needs onnxruntime: {INSTALL_HINT} "
                         "(or use --backend torch)") from None
    return onnxruntime


def cache_dir() -> Path:
    """``$PRNET_CACHE/onnx``, or ``~/.cache/prnet/onnx``."""
    root = os.environ.get("PRNET_CACHE") or Path.home() / ".cache" / "prnet"
    return Path(root) / "onnx"


def open_session(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An onnxruntime CPU session of an ONNX file (``threads``: intra-op threads, default
    ``torch.get_num_threads()`` so that ``prnet --threads N`` applies).

    Raises:
        WeightsError: the file is missing or onnxruntime cannot load it, naming the file.
    """
    ort = import_ort()
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"ONNX file not found: {path}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, int(threads or torch.get_num_threads()))
    so.inter_op_num_threads = 1
    # no spinning: a pool's threads otherwise spin on after each run and take the cores that
    # the next stage needs (numpy, OpenCV, the other sessions): on two cores that made the
    # detector 8.1 vs 5.5 ms and landmarks + pose 17.1 vs 15.2 ms per face (bench, 2 threads)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"not a usable ONNX file: {path} ({msg[:200]})") from None


def cached(name: str, weights_sha256: str, opset: int, export: Callable[[Path], object]) -> Path:
    """``<cache>/<name>-<sha256[:16]>-opset<opset>.onnx``, written by ``export(path)`` on first
    use (the exporters write a temporary file and rename it: readers never see half a file)."""
    path = cache_dir() / f"{name}-{weights_sha256[:16]}-opset{opset}.onnx"
    if not path.is_file():
        export(path)
    return path


def cached_detector_onnx(variant: str) -> Path:
    """The bundled BlazeFace ``variant`` as ONNX in the cache, exported on first use (keyed by
    its weights' sha256 and the opset)."""
    from prnet.detect.blazeface import SPECS
    from prnet.models.onnx_export import DEFAULT_OPSET, export_detector_onnx

    return cached(f"blazeface_{variant}", SPECS[variant].sha256, DEFAULT_OPSET,
                  lambda path: export_detector_onnx(variant, path, DEFAULT_OPSET))
