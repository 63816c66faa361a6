"""Position-map networks behind a small registry (``create_model(name)``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from prnet.errors import PRNetError

_REGISTRY: dict[str, Callable[[], nn.Module]] = {}

#: Short names users type: ``fast`` (the 64²-output network, the default of ``prnet video``) and
#: ``default`` (the bundled 256² network).
MODEL_ALIASES = {"default": "mobilenet_unet", "fast": "mobilenet_unet_fast"}


def register(name: str) -> Callable:
    """Decorator: register a zero-argument model factory under ``name``."""
    def deco(fn: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        _REGISTRY[name] = fn
        return fn
    return deco


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def resolve_model_name(name: str) -> str:
    """The registered name behind ``name`` (an alias of :data:`MODEL_ALIASES` or a name).

    Raises:
        PRNetError: neither (the message lists both).
    """
    name = MODEL_ALIASES.get(name, name)
    if name not in _REGISTRY:
        raise PRNetError(f"unknown model {name!r}; available: {', '.join(list_models())} "
                         f"(aliases: {', '.join(f'{a}={n}' for a, n in MODEL_ALIASES.items())})")
    return name


def create_model(name: str) -> nn.Module:
    """Build an (untrained) registered network (or alias); the mean-face buffer is filled where
    it has one."""
    return _REGISTRY[resolve_model_name(name)]()


@register("resfcn256")
def _resfcn256() -> nn.Module:
    from prnet.models.resfcn import ResFCN256

    return ResFCN256()


def _unet(width: float, decoder: tuple[int, ...]) -> nn.Module:
    from prnet.models.unet import MobileNetUNet
    from prnet.uv.layout import load_layout, mean_posmap

    m = MobileNetUNet(width, decoder)
    m.mean_posmap.copy_(torch.as_tensor(mean_posmap(load_layout())).permute(2, 0, 1)[None])
    return m


@register("mobilenet_unet")
def _mobilenet_unet() -> nn.Module:
    return _unet(0.5, (192, 128, 96, 64, 32))


@register("mobilenet_unet_wide")
def _mobilenet_unet_wide() -> nn.Module:
    """The default network with a decoder twice as wide (1.6M parameters); start it from trained
    ``mobilenet_unet`` weights with :func:`prnet.models.widen.widen_decoder`."""
    return _unet(0.5, (384, 256, 192, 128, 64))


@register("mobilenet_unet_fast")
def _mobilenet_unet_fast() -> nn.Module:
    """The default network without its two full-resolution decoder blocks: 256² in, a 64²
    residual upsampled to the 256² map (about 3× faster). Trained ``mobilenet_unet`` weights
    start it (all tensors but the head)."""
    return _unet(0.5, (192, 128, 96))
