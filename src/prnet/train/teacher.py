"""The 3DDFA_V2 MobileNet-V1 (width 0.5) 3DMM regressor used as a teacher for pseudo-labels.

Weights: ``teacher/3ddfa_v2/weights/mb05_120x120.pth`` of the shared data folder (MIT licence,
3DDFA_V2 authors); never bundled — ``load_teacher`` takes the folder explicitly.
Input: 120×120 BGR crops normalised as (x − 127.5) / 128. Output: 62 parameters (12 for a 3×4
affine camera, 40 shape, 10 expression), de-normalised with the checkpoint's mean/std.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from prnet.errors import AssetMissingError
from prnet.models.mobilenet import MobileNetV1

TEACHER_SIZE = 120


class TeacherNet(nn.Module):
    """MobileNet-V1 backbone + 62-parameter head (+ the unused 68-landmark head of the checkpoint)."""

    def __init__(self, width: float = 0.5) -> None:
        super().__init__()
        self.backbone = MobileNetV1(width)
        self.fc_param = nn.Linear(self.backbone.out_channels, 62)
        self.fc_lm = nn.Linear(self.backbone.out_channels, 136)
        self.register_buffer("param_mean", torch.zeros(62))
        self.register_buffer("param_std", torch.ones(62))

    def forward(self, x_bgr_norm: torch.Tensor) -> torch.Tensor:
        """(B, 3, 120, 120) normalised BGR → (B, 62) de-normalised parameters."""
        f = self.backbone.features(x_bgr_norm)[-1].mean((2, 3))
        return self.fc_param(f) * self.param_std + self.param_mean


def load_teacher(root: str | Path) -> TeacherNet:
    """Build the teacher and load ``weights/mb05_120x120.pth`` + ``configs/param_mean_std_62d_120x120.pkl``."""
    root = Path(root)
    wpath = root / "weights" / "mb05_120x120.pth"
    spath = root / "configs" / "param_mean_std_62d_120x120.pkl"
    if not wpath.exists() or not spath.exists():
        raise AssetMissingError(f"teacher weights not found under {root}")
    sd = torch.load(wpath, map_location="cpu", weights_only=False)
    sd = sd.get("state_dict", sd)
    net = TeacherNet()
    mapped = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        mapped[k if k.startswith("fc_") else "backbone." + k] = v
    with open(spath, "rb") as f:
        ms = pickle.load(f)
    mapped["param_mean"] = torch.as_tensor(np.asarray(ms["mean"], np.float32))
    mapped["param_std"] = torch.as_tensor(np.asarray(ms["std"], np.float32))
    net.load_state_dict(mapped, strict=True)
    return net.eval()


def split_params(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(…, 62) → camera (…, 3, 4), shape (…, 40), expression (…, 10)."""
    return params[..., :12].reshape(*params.shape[:-1], 3, 4), params[..., 12:52], params[..., 52:62]


def preprocess(crops_rgb: np.ndarray) -> torch.Tensor:
    """(B, 120, 120, 3) RGB uint8 → normalised BGR tensor (B, 3, 120, 120)."""
    x = torch.from_numpy(np.ascontiguousarray(crops_rgb[..., ::-1])).permute(0, 3, 1, 2).float()
    return (x - 127.5) / 128.0
