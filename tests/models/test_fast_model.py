"""The fast network (``mobilenet_unet_fast``, alias ``fast``): the default network without its two
full-resolution decoder blocks (a 64² residual upsampled to the 256² map); aliases, the shape of
its computation, ONNX, training init and the video default."""

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


def _fast_from_default() -> torch.nn.Module:
    """The fast network started from the bundled default weights, with a random head."""
    from prnet.models.widen import shorten_decoder

    full = load_weights(create_model("mobilenet_unet").eval(), DEFAULT_FILE)
    fast = shorten_decoder(full, create_model("fast").eval())
    torch.nn.init.normal_(fast.head.weight, std=0.02)
    return fast


def test_the_default_network_stopped_at_64():
    """The fast network computes the default network's first three decoder blocks (same
    tensors, same features), then a head at 64² whose output is bilinearly upsampled."""
    full = load_weights(create_model("mobilenet_unet").eval(), DEFAULT_FILE)
    fast = _fast_from_default()
    assert fast.output_size == 64 and full.output_size == 256 and len(fast.decoder) == 3
    feats, heads = [], []
    full.decoder[2].register_forward_hook(lambda m, i, o: feats.append(o))
    fast.decoder[2].register_forward_hook(lambda m, i, o: feats.append(o))
    fast.head.register_forward_hook(lambda m, i, o: heads.append(o))
    x = torch.rand(2, 3, 256, 256)
    with torch.inference_mode():
        full(x)
        y = fast(x)
    assert feats[0].shape == (2, 96, 64, 64) and torch.equal(feats[0], feats[1])
    assert y.shape == (2, 3, 256, 256) and heads[0].shape == (2, 3, 64, 64)
    up = F.interpolate(heads[0], size=(256, 256), mode="bilinear", align_corners=False)
    assert torch.allclose(y, fast.mean_posmap + up * fast.residual_scale, atol=1e-4)
    assert heads[0].abs().max() > 0.01  # the random head is not the zero one
    with pytest.raises(ValueError, match="1 to 5 block widths"):
        type(fast)(decoder=())


def test_onnx_export_matches_torch(tmp_path):
    pytest.importorskip("onnx", reason='needs onnx: pip install "prnet[onnx]"')
    pytest.importorskip("onnxruntime", reason='needs onnxruntime: pip install "prnet[onnx]"')
    from prnet.models.onnx_export import export_onnx
    from prnet.pipeline.onnx_backend import open_runtime

    net = _fast_from_default()
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
    assert m.output_size == 64
    sd = load_file(str(DEFAULT_FILE))
    for k, v in m.state_dict().items():
        if k.startswith("head."):  # the head reads 96 channels at 64², not 32 at 256²: zero
            assert not v.any(), k
        else:
            assert torch.equal(v, sd[k].to(v.dtype)), k
    assert m.head.weight.shape == (3, 96, 3, 3) != sd["head.weight"].shape
    assert not any(k.startswith(("decoder.3.", "decoder.4.")) for k in m.state_dict())
    # and the other way round: a decoder cannot gain blocks
    fast_file = BUNDLED["mobilenet_unet_fast"].path
    with pytest.raises(PRNetError, match="3 blocks, mobilenet_unet's 5; a decoder can lose"):
        _init_model(TrainConfig(model="mobilenet_unet", init=str(fast_file)), tmp_path)


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


def test_bundled_fast_network_agrees_with_the_default(sample_image_path):
    """The shipped fast weights (registry entry, sha256 checked on load) reconstruct the sample
    face close to the default network: landmarks within a few pixels, the same pose."""
    from prnet import PRN
    from prnet.models.weights import is_bundled

    assert is_bundled("fast") and is_bundled("mobilenet_unet_fast")
    (fast,) = PRN(device="cpu", model="fast", backend="torch").reconstruct(sample_image_path)
    (ref,) = PRN(device="cpu", backend="torch").reconstruct(sample_image_path)
    err = np.linalg.norm(fast.landmarks[:, :2] - ref.landmarks[:, :2], axis=1)
    face = np.ptp(ref.landmarks[:, :2], axis=0).max()
    assert err.mean() < 0.02 * face and err.max() < 0.06 * face, (err.mean(), err.max(), face)
    angles = [[p.yaw, p.pitch, p.roll] for p in (fast.pose, ref.pose)]
    assert np.abs(np.subtract(*angles)).max() < 5.0
