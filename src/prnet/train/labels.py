"""Pseudo-labels: 3DMM fits of the 3DDFA_V2 teacher, refined against manually annotated points.

A label is the teacher's 62 parameters for a 120×120 crop plus the crop's transform; the dense
mesh in crop coordinates is ``crop_vertices(bfm, params)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from prnet.bfm import BFM
from prnet.eval.aflw2000 import AFLWSample
from prnet.train.teacher import TEACHER_SIZE, TeacherNet, preprocess, split_params

# y of the teacher's camera output is flipped into image rows as ``Y_FLIP − y`` (x, z shifted by −1),
# the convention 3DDFA_V2 uses for its 120×120 crops; checked against AFLW2000-3D in the tests.
Y_FLIP = TEACHER_SIZE


def roi_matrix(roi: np.ndarray, size: int = TEACHER_SIZE) -> np.ndarray:
    """2×3 affine image → crop for an axis-aligned box resized to ``size``² (cv2.resize convention)."""
    x0, y0, x1, y1 = np.asarray(roi, np.float64)[:4]
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    return np.array([[sx, 0, (0.5 - x0) * sx - 0.5], [0, sy, (0.5 - y0) * sy - 0.5]])


def teacher_roi(points: np.ndarray, scale: float = 1.5) -> np.ndarray:
    """Square box ``scale`` × max(w, h) around (K, 2) points (the framing of the training crops)."""
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    c, half = (lo + hi) / 2, scale * (hi - lo).max() / 2
    return np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half])


@torch.no_grad()
def run_teacher(net: TeacherNet, crops_rgb: np.ndarray, batch: int = 256) -> np.ndarray:
    """(B, 120, 120, 3) RGB uint8 crops → (B, 62) parameters."""
    out = [net(preprocess(crops_rgb[i : i + batch])).numpy() for i in range(0, len(crops_rgb), batch)]
    return np.concatenate(out, 0).astype(np.float32)


def teacher_crop(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's 120×120 crop of an RGB image, framed by (K, ≥2) landmarks (:func:`teacher_roi`,
    1.5 × their extent, like the training crops); returns the crop and its image → crop matrix."""
    import cv2

    M = roi_matrix(teacher_roi(points, 1.5))
    return cv2.warpAffine(image, M, (TEACHER_SIZE, TEACHER_SIZE), flags=cv2.INTER_LINEAR), M


def fit_samples(net: TeacherNet, samples: Sequence[AFLWSample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Teacher fits of AFLW2000-3D samples, framed like the training crops (:func:`teacher_roi`
    of ``pt3d_68``).

    Returns:
        (B, 62) parameters, (B, 2, 3) image → crop matrices, and (B, 21, 2) the 21 AFLW points
        in crop pixels (−1 where not annotated), ready for :func:`refine_params`.
    """
    from prnet.io.image import read_image

    Ms, crops, pts = [], [], []
    for s in samples:
        crop, M = teacher_crop(read_image(s.image_path), s.pt3d_68)
        Ms.append(M)
        crops.append(crop)
        p = np.asarray(s.pt2d_21, np.float64).reshape(-1, 2)
        pts.append(np.where(p[:, :1] >= 0, p @ M[:, :2].T + M[:, 2], -1.0) if len(p) == 21
                   else -np.ones((21, 2)))
    return run_teacher(net, np.stack(crops)), np.stack(Ms), np.stack(pts)


def camera_to_crop(x: np.ndarray) -> np.ndarray:
    """(…, 3) teacher camera coordinates → crop pixel coordinates (y down, z toward the viewer)."""
    out = x.copy()
    out[..., 0] -= 1
    out[..., 1] = Y_FLIP - out[..., 1]
    out[..., 2] -= 1
    return out


def crop_vertices(bfm: BFM, params: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """(B, 62) parameters → (B, N, 3) vertices (all, or those in ``idx``) in 120×120 crop pixels."""
    P, a, e = split_params(params.astype(np.float64))
    m = bfm if idx is None else bfm.subset(idx)
    V = m.vertices(a, e)
    X = np.einsum("bij,bnj->bni", P[:, :, :3], V) + P[:, None, :, 3]
    return camera_to_crop(X).astype(np.float32)


# BFM vertex nearest each of the 21 AFLW points (order as in AFLW: brows, eyes, ears, nose, mouth,
# chin), chosen (when the labels were first made) as the vertex with the least median distance to the
# annotations over 1,200 training faces under the teacher's fits.
AFLW21_VERTICES = np.array([38827, 39723, 40158, 40896, 41333, 42282, 1571, 4279, 5828, 10586,
                            12261, 14712, 20751, 5748, 8192, 10762, 34379, 6043, 8348, 10539, 47974])


def _rotation(omega: torch.Tensor) -> torch.Tensor:
    """Axis-angle (B, 3) → rotation matrices (B, 3, 3) (Rodrigues)."""
    theta = omega.norm(dim=1, keepdim=True).clamp_min(1e-8)
    k = omega / theta
    K = torch.zeros(omega.shape[0], 3, 3, dtype=omega.dtype)
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K = K - K.transpose(1, 2)
    s, c = torch.sin(theta)[..., None], torch.cos(theta)[..., None]
    return torch.eye(3, dtype=omega.dtype) + s * K + (1 - c) * K @ K


def refine_params(
    bfm: BFM,
    params: np.ndarray,
    points: np.ndarray,
    param_std: np.ndarray,
    *,
    prior: float = 1.0,
    pose_prior: float = 0.3,
    huber_px: float = 2.0,
    iters: int = 150,
    point_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Refine teacher fits so their 21 AFLW vertices meet the annotated points (120-crop pixels).

    A damped similarity correction in crop space (rotation, scale, 2-D shift about the face
    centre) plus shape/expression updates, under a robust (Huber) point loss and Gaussian priors
    that keep everything near the teacher (``prior`` on shape/expression in units of the
    parameters' std, ``pose_prior`` on the similarity). Points < 0 are ignored; ``point_weights``
    (B, 21), if given, scales each point's loss.

    Returns:
        refined parameters (B, 62) — the similarity folded into the 3×4 camera — and the
        (B, 4, 3) similarity [s·R; t] that was applied in crop coordinates, for reference.
    """
    B = len(params)
    sub = bfm.subset(AFLW21_VERTICES)
    P, a0, e0 = (torch.as_tensor(x, dtype=torch.float64) for x in split_params(params.astype(np.float64)))
    mean = torch.as_tensor(sub.mean, dtype=torch.float64)
    Ws = torch.as_tensor(sub.shape_basis, dtype=torch.float64)
    We = torch.as_tensor(sub.exp_basis, dtype=torch.float64)
    sa = torch.as_tensor(param_std[12:52], dtype=torch.float64)
    se = torch.as_tensor(param_std[52:62], dtype=torch.float64)
    pts = torch.as_tensor(points, dtype=torch.float64)
    vis = (pts >= 0).all(-1).double()
    if point_weights is not None:
        vis = vis * torch.as_tensor(point_weights, dtype=torch.float64)
    za = torch.zeros(B, 40, dtype=torch.float64, requires_grad=True)
    ze = torch.zeros(B, 10, dtype=torch.float64, requires_grad=True)
    om = torch.zeros(B, 3, dtype=torch.float64, requires_grad=True)
    ls = torch.zeros(B, 1, dtype=torch.float64, requires_grad=True)
    tr = torch.zeros(B, 2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([za, ze, om, ls, tr], lr=0.03)
    flip = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)

    def project(za_, ze_, om_, ls_, tr_):
        V = mean + torch.einsum("nck,bk->bnc", Ws, a0 + za_ * sa) + torch.einsum("nck,bk->bnc", We, e0 + ze_ * se)
        X = torch.einsum("bij,bnj->bni", P[:, :, :3], V) + P[:, None, :, 3]
        X = X * flip  # y flipped about 0; shifts are absorbed by the translation below
        c = X.mean(1, keepdim=True)
        R = _rotation(om_ * 0.1)  # 0.1 rad per unit
        Y = c + torch.exp(ls_ * 0.05)[:, :, None] * torch.einsum("bij,bnj->bni", R, X - c)
        Y = Y + torch.nn.functional.pad(tr_ * 2.0, (0, 1))[:, None]  # 2 px per unit
        return Y + torch.tensor([-1.0, Y_FLIP, -1.0], dtype=torch.float64), R, c

    for _ in range(iters):
        opt.zero_grad()
        Y, _, _ = project(za, ze, om, ls, tr)
        d = (Y[..., :2] - pts).norm(dim=-1)
        rob = torch.where(d < huber_px, 0.5 * d**2, huber_px * (d - 0.5 * huber_px))
        loss = (rob * vis).sum() / B
        loss = loss + (prior * ((za**2).sum() + (ze**2).sum()) + pose_prior * ((om**2).sum() + (ls**2).sum() + (tr**2).sum())) / B
        loss.backward()
        opt.step()
    with torch.no_grad():
        _, R, c = project(za, ze, om, ls, tr)
        s = torch.exp(ls * 0.05)[:, :, None]
        # fold the similarity (in y-flipped camera space) into the camera matrix
        A = P[:, :, :3] * flip[None, :, None]
        b = P[:, :, 3] * flip
        A2 = s * R @ A
        b2 = (c[:, 0] + (s * R @ (b[:, :, None] - c.transpose(1, 2)))[:, :, 0]) + torch.nn.functional.pad(tr * 2.0, (0, 1))
        P2 = torch.cat([A2 * flip[None, :, None], (b2 * flip)[:, :, None]], 2)
        out = params.astype(np.float64).copy()
        out[:, :12] = P2.reshape(B, 12).numpy()
        out[:, 12:52] = (a0 + za * sa).numpy()
        out[:, 52:62] = (e0 + ze * se).numpy()
        sim = torch.cat([s * R, torch.nn.functional.pad(tr * 2.0, (0, 1))[:, None]], 1)
    return out.astype(np.float32), sim.numpy()
