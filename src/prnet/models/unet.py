"""MobileNet U-Net: a MobileNet-V1 encoder (initialised from the 3DDFA_V2 teacher) with a light
U-Net decoder that regresses the 256×256 position map as a residual over the mean face."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from prnet.geometry.crop import CROP
from prnet.models.mobilenet import MobileNetV1


class UpBlock(nn.Module):
    """Upsample ×2, concatenate the skip, then 1×1 → depthwise 3×3 → 1×1 convs with BN + ReLU."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(cin + cskip, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))
        self.dw = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, groups=cout, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))
        self.pw = nn.Sequential(nn.Conv2d(cout, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        if skip is not None:
            x = torch.cat([x, skip], 1)
        x = self.reduce(x)
        return x + self.pw(self.dw(x))


class MobileNetUNet(nn.Module):
    """(B, 3, 256, 256) RGB in [0, 1] → (B, 3, 256, 256) position map in crop pixels.

    The decoder climbs from the encoder's stride 32 by one ×2 block per ``decoder`` width: five
    reach 256². Fewer stop short (three: 64², :attr:`output_size`) and the residual is
    bilinearly upsampled onto the 256² mean face — the decoder's full-resolution blocks are most
    of the network's time, while a smooth face surface loses little at 64².
    """

    def __init__(self, width: float = 0.5, decoder: tuple[int, ...] = (192, 128, 96, 64, 32)) -> None:
        super().__init__()
        if not 1 <= len(decoder) <= 5:
            raise ValueError(f"decoder: 1 to 5 block widths, got {len(decoder)}")
        self.encoder = MobileNetV1(width)
        skips = self.encoder.skip_channels  # strides 2, 4, 8, 16, 32 → deepest last
        cin = skips[-1]
        blocks = []
        for cskip, cout in zip([*skips[-2::-1], 0], decoder, strict=False):
            blocks.append(UpBlock(cin, cskip, cout))
            cin = cout
        self.output_size = CROP // 2 ** (5 - len(decoder))
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, 3, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("mean_posmap", torch.zeros(1, 3, CROP, CROP))
        self.residual_scale = 32.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the encoder keeps the teacher's input convention: BGR, (x·255 − 127.5) / 128
        x = (x.flip(1) * 255.0 - 127.5) / 128.0
        feats = self.encoder.features(x)
        y = feats[-1]
        for block, skip in zip(self.decoder, [*feats[-2::-1], None], strict=False):
            y = block(y, skip)
        residual = self.head(y).float()
        if self.output_size != CROP:
            residual = F.interpolate(residual, size=(CROP, CROP), mode="bilinear", align_corners=False)
        return self.mean_posmap + residual * self.residual_scale
