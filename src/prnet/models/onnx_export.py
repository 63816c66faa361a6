"""Export a position-map network to ONNX (``prnet export onnx`` and the onnxruntime backend's cache).

The exported graph has the torch module's semantics, mean-face residual included: input
``crops`` float32 (B, 3, 256, 256) RGB in [0, 1] (what :func:`prnet.pipeline.posmaps.network_input`
gives), output ``posmap`` float32 (B, 3, 256, 256) in crop pixels; the batch axis is dynamic.
The metadata (:data:`METADATA_KEYS`) records the format, model name, prnet version, input
normalisation and the weights' sha256.

Uses the TorchScript exporter (``dynamo=False``): it needs only ``onnx`` besides torch and takes
about 1.5 s for the default network. :func:`export_detector_onnx` writes a BlazeFace network
the same way.
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

    meta = {"format": ONNX_FORMAT, "model": model, "prnet_version": prnet.__version__,
            "normalisation": NORMALISATION, "weights_sha256": weights_sha256, "output": OUTPUT}
    return write_onnx(net, path, CROP, [INPUT_NAME], [OUTPUT_NAME], meta, opset)


def export_detector_onnx(variant: str, path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """The bundled BlazeFace ``variant`` ("short" 128×128, "full" 192×192) as ONNX: input
    ``image`` float32 (B, 3, S, S) letterboxed RGB in [-1, 1], outputs ``regressors``
    (B, anchors, 16) and ``logits`` (B, anchors, 1), as the torch network gives them (anchor
    decoding and NMS stay in :mod:`prnet.detect.blazeface`)."""
    import prnet
    from prnet.detect.blazeface import SPECS, load_net

    net = load_net(variant)  # checks the variant and the bundled file
    spec = SPECS[variant]
    meta = {"format": "prnet-blazeface-onnx-1", "model": f"blazeface_{variant}",
            "prnet_version": prnet.__version__,
            "normalisation": f"image: float32 (B, 3, {spec.input_size}, {spec.input_size}) "
                             f"{spec.weights.normalisation}",
            "weights_sha256": spec.sha256, "licence": spec.licence,
            "output": "regressors (B, anchors, 16), logits (B, anchors, 1)"}
    return write_onnx(net, path, spec.input_size, ["image"], ["regressors", "logits"], meta, opset)


def write_onnx(net: nn.Module, path: str | os.PathLike, size: int, inputs: list[str],
               outputs: list[str], meta: dict[str, str], opset: int = DEFAULT_OPSET) -> Path:
    """Export ``net`` on a (2, 3, size, size) example with a dynamic batch axis on every input
    and output, add ``meta`` as metadata, write atomically.

    Raises:
        PRNetError: ``onnx`` is not installed, or the export fails (one line).
    """
    try:
        import onnx
    except ImportError:
        raise PRNetError('ONNX export needs onnx: pip install "prnet[onnx]"') from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = _cpu_copy(net)
    x = torch.rand(2, 3, size, size)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(cpu, (x,), tmp, dynamo=False, opset_version=int(opset),
                              input_names=inputs, output_names=outputs,
                              dynamic_axes={n: {0: "batch"} for n in [*inputs, *outputs]})
        proto = onnx.load(tmp)
        del proto.metadata_props[:]
        for k, v in meta.items():
            proto.metadata_props.add(key=k, value=v)
        proto.producer_name = "prnet"
        onnx.save(proto, tmp)
        os.replace(tmp, path)
    except PRNetError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line for the user
        msg = f"ONNX export of {meta.get('model')} failed: {type(exc).__name__}: {exc}"
        raise PRNetError(msg.splitlines()[0][:400]) from None
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
