"""Export a position-map network to ONNX (``prnet export onnx`` and the onnxruntime backend's cache).

The exported graph has the torch module's semantics, mean-face residual included: input
``crops`` float32 (B, 3, 256, 256) RGB in [0, 1] (what :func:`prnet.pipeline.posmaps.network_input`
gives), output ``posmap`` float32 (B, 3, 256, 256) in crop pixels; the batch axis is dynamic.
The metadata (:data:`METADATA_KEYS`) records the format, model name, prnet version, input
normalisation and the weights' sha256.

Uses the TorchScript exporter (``dynamo=False``): it needs only ``onnx`` besides torch and takes
about 1.5 s for the default network.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from prnet.errors import PRNetError
from prnet.geometry.crop import CROP

#: Value of the ``format`` metadata entry of the files written here.
ONNX_FORMAT = "prnet-posmap-onnx-1"
INPUT_NAME, OUTPUT_NAME = "crops", "posmap"
#: The metadata written into every exported file.
METADATA_KEYS = ("format", "model", "prnet_version", "normalisation", "weights_sha256", "output")
NORMALISATION = ("crops: float32 (B, 3, 256, 256) RGB in [0, 1] (uint8 / 255); the graph converts "
                 "to the teacher's BGR (x*255 - 127.5) / 128 itself")
OUTPUT = "posmap: float32 (B, 3, 256, 256) x, y, z in crop pixels (mean face + residual)"
DEFAULT_OPSET = 17


def export_onnx(net: nn.Module, path: str | os.PathLike, model: str, weights_sha256: str,
                opset: int = DEFAULT_OPSET) -> Path:
    """Write ``net`` (eval mode, on any device) as an ONNX file with a dynamic batch axis.

    The file is written to a temporary name next to ``path`` and renamed, so a concurrent reader
    never sees half a file.

    Raises:
        PRNetError: ``onnx`` is not installed, or the export fails (one line).
    """
    import prnet

    try:
        import onnx
    except ImportError:
        raise PRNetError('ONNX export needs onnx: pip install "prnet[onnx]"') from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = _cpu_copy(net)
    x = torch.rand(2, 3, CROP, CROP)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(cpu, (x,), tmp, dynamo=False, opset_version=int(opset),
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
        proto = onnx.load(tmp)
        meta = {"format": ONNX_FORMAT, "model": model, "prnet_version": prnet.__version__,
                "normalisation": NORMALISATION, "weights_sha256": weights_sha256, "output": OUTPUT}
        del proto.metadata_props[:]
        for k, v in meta.items():
            proto.metadata_props.add(key=k, value=v)
        proto.producer_name = "prnet"
        onnx.save(proto, tmp)
        os.replace(tmp, path)
    except PRNetError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise PRNetError(f"ONNX export of {model} failed: {type(exc).__name__}: {exc}"[:400]) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _cpu_copy(net: nn.Module) -> nn.Module:
    """The network in fp32 on the CPU with contiguous weights (the exporter's input); ``net`` is
    left as it was when it already is there."""
    p = next(net.parameters())
    if p.device.type == "cpu" and p.dtype == torch.float32:
        return net.eval()
    import copy

    return copy.deepcopy(net).float().cpu().eval()
