"""Which autocast each device/precision pair gets."""

from __future__ import annotations

import pytest
import torch

from prnet.models import precision
from prnet.models.precision import autocast, effective_precision


@pytest.mark.parametrize("native", [True, False])
def test_cpu_bf16_only_where_native(monkeypatch, native):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: native)
    assert effective_precision("cpu", "bf16") == ("bf16" if native else "fp32")
    assert effective_precision("cpu", "fp16") == "fp32"  # no fast fp16 convolutions on CPUs
    assert effective_precision("cpu", "none") == effective_precision("cpu", "fp32") == "fp32"
    with autocast("cpu", "bf16"):
        y = torch.nn.Linear(4, 4)(torch.rand(2, 4))
    assert y.dtype == (torch.bfloat16 if native else torch.float32)


def test_cuda_keeps_the_requested_precision():
    assert effective_precision("cuda", "fp16") == "fp16"
    assert effective_precision("cuda:0", "bf16") == "bf16"
    assert effective_precision("cuda", "fp32") == "fp32"


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="unknown precision 'int8'"):
        effective_precision("cpu", "int8")
