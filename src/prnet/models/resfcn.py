"""ResFCN256, the original PRNet encoder-decoder (Feng et al., ECCV 2018), in PyTorch.

Encoder: 4×4 conv (16 ch) + 10 residual blocks (32 → 512 channels, stride-2 halvings) to 8×8;
decoder: 17 transposed convs back to 256×256×3; sigmoid output scaled by 256·1.1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from prnet.geometry.crop import CROP


def _same_pad(k: int, stride: int) -> tuple[int, int, int, int]:
    total = max(k - stride, 0)
    return (total // 2, total - total // 2, total // 2, total - total // 2)


class ConvBNReLU(nn.Module):
    """Conv with TensorFlow 'SAME' padding + BN + ReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, act: bool = True) -> None:
        super().__init__()
        self.pad = _same_pad(k, stride)
        self.conv = nn.Conv2d(cin, cout, k, stride, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(F.pad(x, self.pad)))
        return F.relu(x) if self.act else x


class ResBlock(nn.Module):
    """PRNet residual block: 1×1 (c/2) → 4×4 stride s (c/2) → 1×1 (c), with a 1×1 stride-s shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, bias=False)
                         if (stride != 1 or cin != cout) else nn.Identity())
        self.c1 = ConvBNReLU(cin, cout // 2, 1)
        self.c2 = ConvBNReLU(cout // 2, cout // 2, 4, stride)
        self.c3 = nn.Conv2d(cout // 2, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.c3(self.c2(self.c1(x))) + self.shortcut(x)))


class DeconvBNReLU(nn.Module):
    """4×4 transposed conv ('SAME' output size in/out×stride) + BN + activation."""

    def __init__(self, cin: int, cout: int, stride: int, act: str = "relu") -> None:
        super().__init__()
        # k=4: stride 2 → padding 1 gives exactly 2×; stride 1 → crop one row/col afterwards
        self.stride = stride
        self.deconv = nn.ConvTranspose2d(cin, cout, 4, stride, padding=1, bias=act != "relu")
        self.bn = nn.BatchNorm2d(cout) if act == "relu" else nn.Identity()
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.deconv(x)
        if self.stride == 1:
            y = y[:, :, 1:, 1:]
        y = self.bn(y)
        return F.relu(y) if self.act == "relu" else torch.sigmoid(y)


class ResFCN256(nn.Module):
    """(B, 3, 256, 256) RGB in [0, 1] → (B, 3, 256, 256) position map in crop pixels."""

    def __init__(self, size: int = 16) -> None:
        super().__init__()
        s = size
        self.conv = ConvBNReLU(3, s, 4)
        chans = [(s, 2 * s, 2), (2 * s, 2 * s, 1), (2 * s, 4 * s, 2), (4 * s, 4 * s, 1), (4 * s, 8 * s, 2),
                 (8 * s, 8 * s, 1), (8 * s, 16 * s, 2), (16 * s, 16 * s, 1), (16 * s, 32 * s, 2), (32 * s, 32 * s, 1)]
        self.encoder = nn.Sequential(*[ResBlock(a, b, st) for a, b, st in chans])
        spec = [(32 * s, 32 * s, 1),
                (32 * s, 16 * s, 2), (16 * s, 16 * s, 1), (16 * s, 16 * s, 1),
                (16 * s, 8 * s, 2), (8 * s, 8 * s, 1), (8 * s, 8 * s, 1),
                (8 * s, 4 * s, 2), (4 * s, 4 * s, 1), (4 * s, 4 * s, 1),
                (4 * s, 2 * s, 2), (2 * s, 2 * s, 1),
                (2 * s, s, 2), (s, s, 1),
                (s, 3, 1), (3, 3, 1)]
        layers = [DeconvBNReLU(a, b, st) for a, b, st in spec]
        layers.append(DeconvBNReLU(3, 3, 1, act="sigmoid"))
        self.decoder = nn.Sequential(*layers)  # 17 transposed convs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(self.conv(x))).float() * (CROP * 1.1)
