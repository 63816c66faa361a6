"""AFLW2000-3D loading (images + ``.mat`` ground truth) for the evaluation protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from prnet.errors import PRNetError


@dataclass(frozen=True)
class AFLWSample:
    """One AFLW2000-3D image's ground truth (image coordinates, y down)."""

    image_path: Path
    pt3d_68: np.ndarray  # (68, 3)
    pt2d_21: np.ndarray  # (21, 2), -1 where missing
    pose: np.ndarray  # (7,) pitch, yaw, roll (rad), tx, ty, tz, s
    shape: np.ndarray  # (199,)
    exp: np.ndarray  # (29,)

    @property
    def abs_yaw_deg(self) -> float:
        return float(abs(np.rad2deg(self.pose[1])))


def load_aflw2000(folder: str | Path, limit: int | None = None) -> list[AFLWSample]:
    """All ``.jpg`` + ``.mat`` pairs in ``folder`` (sorted by name)."""
    folder = Path(folder)
    mats = sorted(folder.glob("*.mat"))
    if not mats:
        raise PRNetError(f"no AFLW2000-3D .mat files in {folder}")
    out = []
    for m in mats[:limit]:
        img = m.with_suffix(".jpg")
        if not img.exists():
            continue
        d = scipy.io.loadmat(m)
        out.append(AFLWSample(
            img, d["pt3d_68"].T.astype(np.float32), d["pt2d"].T.astype(np.float32),
            d["Pose_Para"].ravel().astype(np.float64), d["Shape_Para"].ravel(), d["Exp_Para"].ravel(),
        ))
    return out
