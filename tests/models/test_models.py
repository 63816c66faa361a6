"""Every registered network builds, maps (B,3,256,256) → (B,3,256,256); weights load safely."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prnet.errors import PRNetError, WeightsError
from prnet.models import create_model, list_models
from prnet.models.weights import (
    BUNDLED,
    bundled_path,
    file_sha256,
    load_model,
    load_weights,
    save_weights,
)


@pytest.mark.parametrize("name", list_models())
def test_registered_model_shapes(name):
    m = create_model(name).eval()
    with torch.inference_mode():
        y = m(torch.rand(2, 3, 256, 256))
    assert y.shape == (2, 3, 256, 256) and y.dtype == torch.float32
    assert torch.isfinite(y).all()


def test_resfcn256_is_the_original_architecture():
    m = create_model("resfcn256")
    deconvs = [x for x in m.modules() if isinstance(x, torch.nn.ConvTranspose2d)]
    assert len(deconvs) == 17
    n = sum(p.numel() for p in m.parameters())
    assert 12e6 < n < 15e6  # the original PRNet has ~13M parameters
    with torch.inference_mode():
        y = m.eval()(torch.rand(1, 3, 256, 256))
    assert 0 <= float(y.min()) and float(y.max()) <= 256 * 1.1  # sigmoid × 256·1.1


def test_unknown_model_name():
    with pytest.raises(PRNetError, match="unknown model 'nope'; available: mobilenet_unet, mobilenet_unet_fast, mobilenet_unet_wide, resfcn256"):
        create_model("nope")


def test_bundled_weights_integrity():
    spec = BUNDLED["mobilenet_unet"]
    assert file_sha256(bundled_path(spec)) == spec.sha256
    m = load_model("mobilenet_unet")
    assert not m.training


def test_weights_round_trip_fp16(tmp_path):
    m = load_model("mobilenet_unet")
    p = tmp_path / "w.safetensors"
    save_weights(m, p, "mobilenet_unet", half=True)
    m2 = load_weights(create_model("mobilenet_unet"), p)
    x = torch.rand(1, 3, 256, 256)
    with torch.inference_mode():
        d = (m(x) - m2.eval()(x)).abs().max()
    assert float(d) < 1e-3  # the bundled file is fp16 already: re-saving changes nothing


def test_wrong_weights_files(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    with pytest.raises(WeightsError, match="not a valid safetensors weights file"):
        load_model("mobilenet_unet", text)
    with pytest.raises(WeightsError, match="weights file not found"):
        load_model("mobilenet_unet", tmp_path / "missing.safetensors")
    other = tmp_path / "resfcn.safetensors"
    save_weights(create_model("resfcn256"), other, "resfcn256")
    with pytest.raises(WeightsError, match="do not fit this network"):
        load_model("mobilenet_unet", other)
    with pytest.raises(WeightsError, match="no trained weights are bundled for model 'resfcn256'"):
        load_model("resfcn256")


def test_teacher_initialisation_matches_teacher_encoder(shared_dir):
    from prnet.train.teacher import load_teacher

    t = load_teacher(shared_dir / "teacher/3ddfa_v2")
    m = create_model("mobilenet_unet")
    m.encoder.load_state_dict(t.backbone.state_dict())
    x = torch.rand(1, 3, 120, 120)
    with torch.inference_mode():
        a = t.backbone.eval().features(x)[-1]
        b = m.encoder.eval().features(x)[-1]
    np.testing.assert_allclose(a.numpy(), b.numpy())
