"""Batched, device-side augmentation: the crop (with rotation/scale/shift/flip) of each training
face and photometric changes, applied consistently to the image and its position map."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from prnet.geometry.crop import CROP as NET
from prnet.geometry.crop import LANDMARK_SCALE


def crop_affines(
    kpts: torch.Tensor, gen: torch.Generator | None, *, rot_deg: float = 45.0,
    scale: tuple[float, float] = (0.9, 1.2), shift: float = 0.1, augment: bool = True,
) -> torch.Tensor:
    """(B, 68, 2) landmarks in source pixels → (B, 2, 3) source → network-input similarities.

    Without augmentation: PRNet's landmark crop (box centre, side 1.6 × mean(w, h)). With it: a
    random rotation (more mass near 0), side scale, and shift of the crop square.
    """
    B, dev = kpts.shape[0], kpts.device
    lo, hi = kpts.amin(1), kpts.amax(1)
    centre = (lo + hi) / 2
    side = LANDMARK_SCALE * (hi - lo).mean(1)
    angle = torch.zeros(B, device=dev)
    if augment:
        u = torch.rand(B, 4, device=dev, generator=gen)
        r = u[:, 0] * 2 - 1
        angle = torch.sign(r) * r.square() * math.radians(rot_deg)
        side = side * (scale[0] + (scale[1] - scale[0]) * u[:, 1])
        centre = centre + (u[:, 2:4] * 2 - 1) * shift * side[:, None]
    s = (NET - 1) / side
    c, si = torch.cos(angle) * s, torch.sin(angle) * s
    R = torch.stack([torch.stack([c, si], 1), torch.stack([-si, c], 1)], 1)  # (B, 2, 2)
    t = (NET - 1) / 2 - (R @ centre[:, :, None])[:, :, 0]
    return torch.cat([R, t[:, :, None]], 2)


def warp_images(
    src: torch.Tensor, affine: torch.Tensor, flip: torch.Tensor | None = None,
    reflect: torch.Tensor | None = None,
) -> torch.Tensor:
    """Warp (B, C, h, w) float images into (B, C, 256, 256) network crops.

    Outside the source: zeros, or a mirror of it where ``reflect`` (B,) is set (the 120-px
    training crops are tighter than the network's crop; a mirrored border looks more like the
    real background a test crop has than black does).
    """
    B, _, h, w = src.shape
    R, t = affine[:, :, :2], affine[:, :, 2]
    Ri = torch.linalg.inv(R)
    ys, xs = torch.meshgrid(torch.arange(NET, device=src.device, dtype=src.dtype),
                            torch.arange(NET, device=src.device, dtype=src.dtype), indexing="ij")
    xs = xs[None].expand(B, -1, -1)
    if flip is not None:
        xs = torch.where(flip[:, None, None], NET - 1 - xs, xs)
    p = torch.stack([xs, ys[None].expand(B, -1, -1)], -1) - t[:, None, None]
    q = torch.einsum("bij,bhwj->bhwi", Ri, p)
    grid = torch.stack([(2 * q[..., 0] + 1) / w - 1, (2 * q[..., 1] + 1) / h - 1], -1)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if reflect is not None and bool(reflect.any()):
        r = F.grid_sample(src[reflect], grid[reflect], mode="bilinear", padding_mode="reflection",
                          align_corners=False)
        out[reflect] = r
    return out


def photometric(x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """Colour gain 0.6–1.4 per channel, 10 % grey, 30 % down/up-sampling, 30 % random occluder."""
    B, dev = x.shape[0], x.device
    u = torch.rand(B, 8, device=dev, generator=gen)
    x = x * (0.6 + 0.8 * torch.rand(B, 3, 1, 1, device=dev, generator=gen))
    grey = x.mean(1, keepdim=True).expand_as(x)
    x = torch.where((u[:, 0] < 0.1)[:, None, None, None], grey, x)
    low = F.interpolate(F.interpolate(x, size=(80, 80), mode="area"), size=(NET, NET), mode="bilinear",
                        align_corners=False)
    x = torch.where((u[:, 1] < 0.3)[:, None, None, None], low, x)
    # occluder: a rectangle of one random colour
    ys = torch.arange(NET, device=dev)[None, :, None]
    xs = torch.arange(NET, device=dev)[None, None, :]
    w, h = (20 + 100 * u[:, 2]), (20 + 100 * u[:, 3])
    x0, y0 = (NET - w) * u[:, 4], (NET - h) * u[:, 5]
    m = ((xs >= x0[:, None, None]) & (xs < (x0 + w)[:, None, None]) &
         (ys >= y0[:, None, None]) & (ys < (y0 + h)[:, None, None]) & (u[:, 6] < 0.3)[:, None, None])
    colour = torch.rand(B, 3, 1, 1, device=dev, generator=gen)
    x = torch.where(m[:, None], colour, x)
    return x.clamp(0, 1)


def resize_batch(x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, size: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops (B, 3, 256, 256) and position maps (B, 3, 256, 256) at ``size`` (a divisor of 256)
    for progressive resizing: area-averaged crops; maps averaged over the ``valid`` (1, 1, 256,
    256) texels only (rendered texels next to unrendered zeros keep their value), positions
    still in 256-crop pixels."""
    k = NET // size
    cover = F.avg_pool2d(valid, k)
    return (F.interpolate(x, size=(size, size), mode="area"),
            F.avg_pool2d(y * valid, k) / cover.clamp_min(1e-6))
