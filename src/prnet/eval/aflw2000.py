"""AFLW2000-3D loading (images + ``.mat`` ground truth) and the approximate ground-truth mesh.

The ``.mat`` files hold the fitted 3DMM parameters of each face. With the 40 shape and 10
expression components of the BFM we have (the fits used 199 + 29), the mesh is rebuilt as

    V = mean + W_shp · Shape_Para[:40] + W_exp · Exp_Para[:10]        (BFM frame, y up)
    X = s · R · V + t,   R = Rx(pitch) · Ry(yaw) · Rz(roll)            (AFLW convention)
    x_img = X_x,  y_img = H + 1 − X_y,  z_img = X_z                   (image frame, y down)

``R`` is :func:`prnet.geometry.pose.angles_to_matrix`. The row flip ``H + 1 − y`` (MATLAB's
1-based rows) reproduces ``pt3d_68`` better than ``H − y``: over the 400 dev images the mean
68-point residual is 0.88 % 2D NME / 1.02 % 3D (``H − y``: 1.03 % / 1.15 %, with a median y
residual of +0.95 px; x and z show no offset); checked in ``tests/eval/test_eval_aflw2000.py``.
The rest is the truncated components, so the rebuilt mesh is an *approximate* ground truth:
label dense metrics so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from prnet.bfm import BFM
from prnet.errors import PRNetError
from prnet.geometry.pose import angles_to_matrix

log = logging.getLogger(__name__)

#: AFLW2000-3D images are 450 × 450.
AFLW_IMAGE_SIZE = 450
#: y_img = height + ROW_FLIP_OFFSET − y (measured, module docstring).
ROW_FLIP_OFFSET = 1.0
#: Components of the parameters our BFM has.
N_SHAPE, N_EXP = 40, 10


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

    @property
    def angles_deg(self) -> np.ndarray:
        """(3,) ground-truth pitch, yaw, roll in degrees (``Pose_Para[:3]``)."""
        return np.rad2deg(self.pose[:3])

    @property
    def landmark_box(self) -> np.ndarray:
        """(4,) x0, y0, x1, y1 of the 68 ground-truth landmarks (x, y)."""
        xy = self.pt3d_68[:, :2].astype(np.float64)
        return np.concatenate([xy.min(0), xy.max(0)])


def load_aflw2000(folder: str | Path, limit: int | None = None) -> list[AFLWSample]:
    """All ``.jpg`` + ``.mat`` pairs in ``folder`` (sorted by name; the first ``limit``).

    A ``.mat`` without its ``.jpg`` is skipped with a warning.

    Raises:
        PRNetError: ``folder`` holds no ``.mat`` file.
    """
    folder = Path(folder)
    mats = sorted(folder.glob("*.mat"))
    if not mats:
        raise PRNetError(f"no AFLW2000-3D .mat files in {folder}")
    out = []
    for m in mats:
        if limit is not None and len(out) >= limit:
            break
        img = m.with_suffix(".jpg")
        if not img.exists():
            log.warning("%s has no image %s: skipped", m.name, img.name)
            continue
        d = scipy.io.loadmat(m)
        out.append(AFLWSample(
            img, d["pt3d_68"].T.astype(np.float32), d["pt2d"].T.astype(np.float32),
            d["Pose_Para"].ravel().astype(np.float64), d["Shape_Para"].ravel(), d["Exp_Para"].ravel(),
        ))
    return out


def gt_mesh(sample: AFLWSample, bfm: BFM, height: int = AFLW_IMAGE_SIZE) -> np.ndarray:
    """The approximate ground-truth mesh of a sample in image coordinates (module docstring).

    Args:
        sample: the AFLW2000-3D sample (its Shape/Exp/Pose parameters are used).
        bfm: the model (all 53,215 vertices, or a :meth:`~prnet.bfm.BFM.subset`, e.g.
            ``bfm.subset(bfm.keypoints)`` for the 68 landmarks).
        height: image height in pixels (450 for AFLW2000-3D).

    Returns:
        (N, 3) float64 vertices (x right, y down, z towards the viewer).
    """
    shp = np.asarray(sample.shape, np.float64)[:N_SHAPE]
    exp = np.asarray(sample.exp, np.float64)[:N_EXP]
    v = bfm.vertices(shp, exp).astype(np.float64)
    pitch, yaw, roll, tx, ty, tz, s = np.asarray(sample.pose, np.float64)[:7]
    x = s * v @ angles_to_matrix(pitch, yaw, roll).T + np.array([tx, ty, tz])
    x[:, 1] = height + ROW_FLIP_OFFSET - x[:, 1]
    return x
