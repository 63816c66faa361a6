"""The fast network (``mobilenet_unet_fast``, alias ``fast``): the default network's tensors run
at 128² inside the 256² interface; aliases, weights, ONNX, training init and the video default."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from prnet.errors import PRNetError
from prnet.models import MODEL_ALIASES, create_model, resolve_model_name
from prnet.models.weights import BUNDLED, load_weights
from prnet.pipeline.options import ModelOptions

DEFAULT_FILE = BUNDLED["mobilenet_unet"].path


def test_aliases_resolve_everywhere():
    assert resolve_model_name("fast") == "mobilenet_unet_fast" == MODEL_ALIASES["fast"]
    assert resolve_model_name("default") == "mobilenet_unet"
    assert ModelOptions(model="fast").model == "mobilenet_unet_fast"
    assert type(create_model("fast")).__name__ == "MobileNetUNet"
    with pytest.raises(PRNetError, match=r"unknown model 'quick'.*aliases: default=mobilenet_unet"):
        ModelOptions(model="quick")


def test_same_tensors_half_the_resolution():
    """The default network's weights load into the fast one unchanged; it sees the crop 2×2
    averaged, so a crop that is constant on 2×2 blocks gives the same map as the 128² image
    upsampled, and its residual is smooth (bilinear) at 256²."""
    fast, full = create_model("fast").eval(), create_model("mobilenet_unet").eval()
    load_weights(fast, DEFAULT_FILE)
    load_weights(full, DEFAULT_FILE)
    assert fast.input_size == 128 and full.input_size == 256
    small = torch.rand(2, 3, 128, 128)
    x = F.interpolate(small, scale_factor=2, mode="nearest")
    heads = []
    fast.head.register_forward_hook(lambda m, i, o: heads.append(o))
    with torch.inference_mode():
        y = fast(x)
        y2 = fast(x + 0.01 * torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(128, 128))  # 0 per 2×2
    assert y.shape == (2, 3, 256, 256) and heads[0].shape == (2, 3, 128, 128)
    assert torch.allclose(y, y2, atol=1e-4)
    up = F.interpolate(heads[0], size=(256, 256), mode="bilinear", align_corners=False)
    assert torch.allclose(y, fast.mean_posmap + up * fast.residual_scale, atol=1e-4)
    with pytest.raises(ValueError, match="must divide 256"):
        type(fast)(input_size=100)


def test_onnx_export_matches_torch(tmp_path):
    pytest.importorskip("onnx", reason='needs onnx: pip install "prnet[onnx]"')
    pytest.importorskip("onnxruntime", reason='needs onnxruntime: pip install "prnet[onnx]"')
    from prnet.models.onnx_export import export_onnx
    from prnet.pipeline.onnx_backend import open_runtime

    net = load_weights(create_model("fast").eval(), DEFAULT_FILE)
    path = export_onnx(net, tmp_path / "fast.onnx", "mobilenet_unet_fast", "0" * 64)
    x = torch.rand(3, 3, 256, 256)
    with torch.inference_mode():
        want = net(x).numpy()
    got = open_runtime(path, threads=1).run(["posmap"], {"crops": x.numpy()})[0]
    assert np.abs(got - want).max() < 1e-2  # crop pixels


def test_training_starts_from_the_default_networks_weights(tmp_path):
    from safetensors.torch import load_file

    from prnet.train.config import TrainConfig
    from prnet.train.loop import _init_model

    m = _init_model(TrainConfig(model="mobilenet_unet_fast", init=str(DEFAULT_FILE)), tmp_path)
    assert m.input_size == 128
    sd = load_file(str(DEFAULT_FILE))
    for k, v in m.state_dict().items():
        assert torch.equal(v, sd[k].to(v.dtype)), k


@pytest.mark.parametrize(("argv", "want"), [
    ([], "fast"), (["--model", "default"], "default"), (["--model", "resfcn256"], "resfcn256"),
    (["--weights", "w.safetensors"], None), (["--onnx", "n.onnx"], None),
])
def test_video_runs_the_fast_network_unless_told_otherwise(argv, want, monkeypatch):
    from prnet.cli import apps

    monkeypatch.setattr("prnet.models.weights.is_bundled", lambda name: True)
    ns = argparse.Namespace(model=None, weights=None, onnx=None)
    for flag, value in zip(argv[::2], argv[1::2]):
        setattr(ns, flag[2:], value)
    assert apps.video_model(ns) == want
    monkeypatch.setattr("prnet.models.weights.is_bundled", lambda name: False)
    assert apps.video_model(argparse.Namespace(model=None, weights=None, onnx=None)) is None
