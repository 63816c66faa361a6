"""MobileNet-V1 backbone with the layer names of the 3DDFA_V2 checkpoints (so they load as-is)."""

from __future__ import annotations

import torch
from torch import nn

# (name, out_channels at width 1.0, stride) of the depthwise-separable blocks after conv1.
_BLOCKS = [
    ("dw2_1", 64, 1), ("dw2_2", 128, 2),
    ("dw3_1", 128, 1), ("dw3_2", 256, 2),
    ("dw4_1", 256, 1), ("dw4_2", 512, 2),
    ("dw5_1", 512, 1), ("dw5_2", 512, 1), ("dw5_3", 512, 1), ("dw5_4", 512, 1), ("dw5_5", 512, 1),
    ("dw5_6", 1024, 2),
    ("dw6", 1024, 1),
]


class DepthwiseSeparable(nn.Module):
    """3×3 depthwise conv + BN + ReLU, then 1×1 conv + BN + ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.bn_dw = nn.BatchNorm2d(cin)
        self.conv_sep = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn_sep = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn_dw(self.conv_dw(x)))
        return self.relu(self.bn_sep(self.conv_sep(x)))


class MobileNetV1(nn.Module):
    """MobileNet-V1 feature extractor. ``features(x)`` returns the maps at strides 2, 4, 8, 16, 32."""

    def __init__(self, width: float = 0.5) -> None:
        super().__init__()
        c = int(32 * width)
        self.conv1 = nn.Conv2d(3, c, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.channels: list[int] = []
        for name, cout, stride in _BLOCKS:
            co = int(cout * width)
            setattr(self, name, DepthwiseSeparable(c, co, stride))
            c = co
        self.out_channels = c
        # channels of the maps returned by features(): strides 2, 4, 8, 16, 32
        self.skip_channels = [int(k * width) for k in (64, 128, 256, 512, 1024)]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        feats = []
        for name, _, stride in _BLOCKS:
            if stride == 2:
                feats.append(x)
            x = getattr(self, name)(x)
        feats.append(x)
        return feats  # strides 2, 4, 8, 16, 32
