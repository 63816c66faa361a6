"""Mixed precision for the networks: which autocast a device and a precision name give.

CUDA: bf16 or fp16 autocast. CPU: bf16 autocast only where the processor computes bf16 natively
(AVX512-BF16 or AMX; then the ResFCN/U-Net convolutions run several times faster), otherwise fp32
-- emulated bf16 is slower than fp32.
"""

from __future__ import annotations

from functools import lru_cache

import torch

PRECISIONS = ("fp32", "bf16", "fp16")
#: What inference takes: :data:`PRECISIONS`, and "int8" (a bundled int8 ONNX file of the
#: network, run by onnxruntime on the CPU; ``prnet.weights`` entries of kind "int8").
INFERENCE_PRECISIONS = (*PRECISIONS, "int8")


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when this CPU has native bf16 arithmetic (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # older torch without the probes
        return False


def effective_precision(device: str | torch.device, precision: str) -> str:
    """The precision actually used for ``precision`` on ``device`` (``"none"`` means fp32)."""
    if precision not in (*PRECISIONS, "none"):
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if precision in ("none", "fp32"):
        return "fp32"
    if kind == "cuda":
        return precision
    return "bf16" if precision == "bf16" and kind == "cpu" and cpu_has_bf16() else "fp32"


def autocast(device: str | torch.device, precision: str) -> torch.autocast:
    """``torch.autocast`` for ``precision`` on ``device``; disabled when it resolves to fp32."""
    kind = torch.device(device).type
    eff = effective_precision(device, precision)
    if eff == "fp32":
        return torch.autocast(kind if kind in ("cuda", "cpu") else "cpu", enabled=False)
    return torch.autocast(kind, dtype=torch.bfloat16 if eff == "bf16" else torch.float16)
