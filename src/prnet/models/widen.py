"""Starting one MobileNet U-Net from another: function-preserving widening of a trained decoder
(Net2WiderNet), and shortening it to fewer (coarser) blocks.

A wider decoder starts from a trained narrow one and computes exactly the same position maps:
each new channel copies an old one (its incoming weights and BatchNorm), and every layer that
reads the copies divides the copied column by the number of copies. Zero-sum noise on those
divided columns breaks the symmetry between copies without changing the output, so training
can use the added capacity from the first step instead of relearning what the narrow model knew.
"""

from __future__ import annotations

import torch
from torch import nn

from prnet.models.unet import MobileNetUNet


def channel_map(old: int, new: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """(new,) index of the old channel each new channel copies: 0…old−1, then random old ones."""
    if new < old:
        raise ValueError(f"cannot widen {old} channels to {new}")
    extra = torch.randint(0, old, (new - old,), generator=gen)
    return torch.cat([torch.arange(old), extra])


def _spread(w: torch.Tensor, g: torch.Tensor, noise: float, gen: torch.Generator | None) -> torch.Tensor:
    """Input columns (dim 1) of ``w`` copied by ``g`` and divided by the copy counts, plus
    zero-sum noise across each group of copies (the layer's output is unchanged)."""
    counts = torch.bincount(g, minlength=int(g.max()) + 1).to(w.dtype)
    shape = (1, -1) + (1,) * (w.dim() - 2)
    out = w[:, g] / counts[g].view(shape)
    if noise > 0:
        eps = torch.randn(out.shape, generator=gen, dtype=out.dtype) * noise * w.abs().mean()
        group_mean = torch.zeros_like(w).index_add_(1, g, eps)
        eps = eps - (group_mean / counts.view(shape))[:, g]
        out = out + eps
    return out


def _copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, g: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name).data.copy_(getattr(src, name).data[g])
    dst.num_batches_tracked.data.copy_(src.num_batches_tracked.data)


@torch.no_grad()
def widen_decoder(narrow: MobileNetUNet, widths: tuple[int, ...], noise: float = 0.01,
                  seed: int = 0) -> MobileNetUNet:
    """A :class:`MobileNetUNet` with decoder channel counts ``widths`` (each ≥ the narrow one's)
    that computes the same output as ``narrow``; the encoder and mean face are copied as-is."""
    gen = torch.Generator().manual_seed(seed)
    width = narrow.encoder.skip_channels[0] / 64
    wide = MobileNetUNet(width, tuple(widths))
    if len(wide.decoder) != len(narrow.decoder):
        raise ValueError(f"expected {len(narrow.decoder)} decoder widths, got {len(widths)}")
    wide.encoder.load_state_dict(narrow.encoder.state_dict())
    wide.mean_posmap.copy_(narrow.mean_posmap)
    wide.residual_scale = narrow.residual_scale
    g_in: torch.Tensor | None = None  # channel map of the previous block's output
    for a, b in zip(narrow.decoder, wide.decoder, strict=True):
        g = channel_map(a.reduce[0].out_channels, b.reduce[0].out_channels, gen)
        w = a.reduce[0].weight[g]  # (cout, cin + cskip, 1, 1): the upsampled input first, then the skip
        if g_in is not None:
            cin = int(g_in.max()) + 1  # the previous block's narrow width
            w = torch.cat([_spread(w[:, :cin], g_in, noise, gen), w[:, cin:]], 1)
        b.reduce[0].weight.copy_(w)
        _copy_bn(b.reduce[1], a.reduce[1], g)
        b.dw[0].weight.copy_(a.dw[0].weight[g])
        _copy_bn(b.dw[1], a.dw[1], g)
        b.pw[0].weight.copy_(_spread(a.pw[0].weight[g], g, noise, gen))
        _copy_bn(b.pw[1], a.pw[1], g)
        g_in = g
    wide.head.weight.copy_(_spread(narrow.head.weight, g_in, noise, gen))
    wide.head.bias.copy_(narrow.head.bias)
    return wide


def shorten_decoder(full: MobileNetUNet, short: MobileNetUNet) -> MobileNetUNet:
    """``short`` (a decoder whose widths begin ``full``'s) with ``full``'s encoder and first
    decoder blocks; its head, which reads a coarser map, stays as initialised (zero: the mean
    face)."""
    own = short.state_dict()
    kept = {k: v.to(own[k].dtype) for k, v in full.state_dict().items()
            if k in own and v.shape == own[k].shape and not k.startswith("head.")}
    short.load_state_dict(kept, strict=False)
    return short
