"""Net2WiderNet widening of the U-Net decoder keeps the function and breaks the symmetry."""

from __future__ import annotations

import pytest
import torch

from prnet.models import create_model
from prnet.models.weights import save_weights
from prnet.models.widen import channel_map, widen_decoder


def _narrow_with_random_state(seed: int = 0):
    """A mobilenet_unet whose weights, head and BatchNorm statistics are all non-trivial."""
    torch.manual_seed(seed)
    m = create_model("mobilenet_unet")
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 2)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.1)
        m.head.weight.normal_(0, 0.05)
        m.head.bias.normal_(0, 0.05)
    return m


@pytest.mark.parametrize("train_mode", [False, True])
def test_widened_decoder_computes_the_same_position_map(train_mode):
    narrow = _narrow_with_random_state()
    wide = widen_decoder(narrow, (384, 256, 150, 128, 40), noise=0.05)
    assert [b.reduce[0].out_channels for b in wide.decoder] == [384, 256, 150, 128, 40]
    narrow.train(train_mode)
    wide.train(train_mode)
    x = torch.rand(2, 3, 256, 256)
    with torch.no_grad():
        a, b = narrow(x), wide(x)
    residual = (a - narrow.mean_posmap).abs().mean()
    assert residual > 0.1  # the check below is not trivially met by a zero head
    assert (a - b).abs().max() < 1e-3 * residual.item() + 1e-3


def test_copies_receive_different_gradients():
    wide = widen_decoder(_narrow_with_random_state(), (384, 256, 192, 128, 64), noise=0.01)
    wide(torch.rand(2, 3, 256, 256)).abs().mean().backward()
    g = wide.decoder[-1].pw[0].weight.grad[:, :, 0, 0]
    assert not torch.allclose(g[:32], g[32:64])  # channel j and its copy j + 32 can diverge


def test_channel_map_and_errors():
    g = channel_map(4, 10, torch.Generator().manual_seed(0))
    assert g[:4].tolist() == [0, 1, 2, 3] and int(g.max()) < 4 and len(g) == 10
    with pytest.raises(ValueError):
        channel_map(8, 4)
    with pytest.raises(ValueError):
        widen_decoder(_narrow_with_random_state(), (384, 256))


def test_training_init_widens_a_narrow_checkpoint(tmp_path):
    from prnet.train.loop import TrainConfig, _init_model

    narrow = _narrow_with_random_state().eval()
    path = tmp_path / "narrow.safetensors"
    save_weights(narrow, path, "mobilenet_unet", half=False)
    wide = _init_model(TrainConfig(model="mobilenet_unet_wide", init=str(path), device="cpu"), tmp_path)
    assert wide.decoder[0].reduce[0].out_channels == 384
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        assert (narrow(x) - wide.eval()(x)).abs().max() < 1e-2


def test_training_init_refuses_what_cannot_widen(tmp_path):
    from prnet.errors import PRNetError
    from prnet.models import create_model
    from prnet.train.loop import TrainConfig, _init_model

    wide = tmp_path / "wide.safetensors"
    save_weights(create_model("mobilenet_unet_wide"), wide, "mobilenet_unet_wide", half=False)
    with pytest.raises(PRNetError, match="can be widened, not narrowed"):
        _init_model(TrainConfig(model="mobilenet_unet", init=str(wide), device="cpu"), tmp_path)
    res = tmp_path / "resfcn.safetensors"
    save_weights(create_model("resfcn256"), res, "resfcn256", half=False)
    with pytest.raises(PRNetError, match="weights of resfcn256 cannot start mobilenet_unet_wide"):
        _init_model(TrainConfig(model="mobilenet_unet_wide", init=str(res), device="cpu"), tmp_path)
