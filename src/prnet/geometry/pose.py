"""Head pose from 3D vertices: similarity fit (Umeyama) and AFLW2000-3D Euler angles.

Conventions (the AFLW2000-3D ``Pose_Para`` convention, checked on the dev split):

* The canonical face lives in the 3DMM frame: x to the face's left (image right when it
  looks at the camera), **y up**, z out of the face (the face looks towards +z).
* A pose maps canonical points ``V`` to ``X = s·R·V + t`` in a *y-up* image frame with
  ``R = Rx(pitch) @ Ry(yaw) @ Rz(roll)``::

      Rx = [[1, 0, 0], [0, c, s], [0, -s, c]]
      Ry = [[c, 0, -s], [0, 1, 0], [s, 0, c]]
      Rz = [[c, s, 0], [-s, c, 0], [0, 0, 1]]

  Our vertices are in image coordinates (x right, y down, z towards the viewer), so the
  y-up frame is ``(x, -y, z)`` (AFLW uses ``H - y``; the offset only changes ``t``).
* Signs (subject seen by the camera):
  - **yaw > 0**: the nose turns to *image-left* (the subject looks to their own right);
  - **pitch > 0**: the face tilts *up* (nose up, chin towards the camera);
  - **roll > 0**: the face rotates *clockwise* on screen (the image-right eye drops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from prnet.errors import InputShapeError, PRNetError

__all__ = [
    "Pose",
    "PoseTemplate",
    "angles_to_matrix",
    "estimate_pose",
    "image_camera",
    "matrix_to_angles",
    "similarity_fit",
]

# Image coordinates (y down) <-> y-up frame: flip y only (a reflection, so the left-handed
# image frame becomes the right-handed 3DMM frame).
_FLIP_Y = np.array([1.0, -1.0, 1.0])
# cos(yaw) below this is treated as gimbal lock (|yaw| within ~0.006° of 90°).
_GIMBAL_EPS = 1e-4


def _as_points(name: str, a: ArrayLike) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputShapeError(f"{name}: expected shape (N, 3), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise PRNetError(f"{name}: contains NaN or inf")
    return arr


def similarity_fit(
    src: ArrayLike,
    dst: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    with_scale: bool = True,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted least-squares similarity ``dst ≈ s·R·src + t`` (Umeyama 1991).

    Args:
        src: (N, 3) source points (e.g. the canonical face).
        dst: (N, 3) corresponding target points (e.g. the observed face), N ≥ 3.
        weights: optional (N,) non-negative weights (need not sum to 1).
        with_scale: if False, fit a rigid transform (``s = 1``).

    Returns:
        ``(s, R, t)``: scale (float > 0), proper rotation (3, 3) with ``det(R) = +1``
        (a reflection is never returned) and translation (3,).

    Raises:
        InputShapeError: shapes do not match (N, 3) / (N,), or N < 3.
        PRNetError: non-finite input, negative or all-zero weights, or ``src`` collapsed
            to a single point.
    """
    src_a = _as_points("src", src)
    dst_a = _as_points("dst", dst)
    n = src_a.shape[0]
    if dst_a.shape != src_a.shape:
        raise InputShapeError(f"dst: expected shape {src_a.shape} like src, got {dst_a.shape}")
    if n < 3:
        raise InputShapeError(f"src: need at least 3 points, got {n}")
    if weights is None:
        w = np.full(n, 1.0 / n)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n,):
            raise InputShapeError(f"weights: expected shape ({n},), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise PRNetError("weights: must be finite, non-negative and not all zero")
        w = w / w.sum()

    mu_s = w @ src_a
    mu_d = w @ dst_a
    xs = src_a - mu_s
    xd = dst_a - mu_d
    var_s = float(w @ np.einsum("ij,ij->i", xs, xs))
    if var_s <= 1e-12 * max(1.0, float(np.abs(src_a).max())) ** 2:
        raise PRNetError("src: points (with non-zero weight) collapse to a single point")

    cov = (xd * w[:, None]).T @ xs  # (3, 3) Σ w·xd·xsᵀ
    return _similarity_from_moments(cov, var_s, mu_s, mu_d, with_scale)


def _similarity_from_moments(cov: np.ndarray, var_s: float, mu_s: np.ndarray, mu_d: np.ndarray,
                             with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama's closed form from the weighted moments: cross-covariance ``cov`` (3, 3)
    Σ w·(dst − μd)(src − μs)ᵀ, source variance ``var_s`` and both means."""
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2] = -1.0
    rot = (u * sign) @ vt
    scale = float((d * sign).sum() / var_s) if with_scale else 1.0
    trans = mu_d - scale * rot @ mu_s
    return scale, rot, trans


def angles_to_matrix(pitch: ArrayLike, yaw: ArrayLike, roll: ArrayLike) -> np.ndarray:
    """Rotation ``R = Rx(pitch) @ Ry(yaw) @ Rz(roll)`` in the AFLW2000-3D convention.

    Args:
        pitch, yaw, roll: angles in **radians**, scalars or broadcastable arrays of shape S.

    Returns:
        (*S, 3, 3) float64 rotation matrices (see the module docstring for the signs).
    """
    p, y, r = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (pitch, yaw, roll)))
    cp, sp, cy, sy, cr, sr = np.cos(p), np.sin(p), np.cos(y), np.sin(y), np.cos(r), np.sin(r)
    rows = [
        [cy * cr, cy * sr, -sy],
        [sp * sy * cr - cp * sr, sp * sy * sr + cp * cr, sp * cy],
        [cp * sy * cr + sp * sr, cp * sy * sr - sp * cr, cp * cy],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def matrix_to_angles(rotation: ArrayLike) -> tuple[float, float, float]:
    """Inverse of :func:`angles_to_matrix`: ``(pitch, yaw, roll)`` in radians.

    Yaw is in [-π/2, π/2], pitch and roll in (-π, π]. At gimbal lock (|yaw| = 90°, only
    pitch ∓ roll is defined) roll is set to 0 and the whole in-plane angle goes to pitch.

    Args:
        rotation: (3, 3) rotation matrix.

    Returns:
        ``(pitch, yaw, roll)`` as floats, radians.

    Raises:
        InputShapeError: ``rotation`` is not (3, 3).
    """
    m = np.asarray(rotation, dtype=np.float64)
    if m.shape != (3, 3):
        raise InputShapeError(f"rotation: expected shape (3, 3), got {m.shape}")
    cos_yaw = float(np.hypot(m[0, 0], m[0, 1]))
    yaw = float(np.arctan2(-m[0, 2], cos_yaw))
    if cos_yaw > _GIMBAL_EPS:
        pitch = float(np.arctan2(m[1, 2], m[2, 2]))
        roll = float(np.arctan2(m[0, 1], m[0, 0]))
    else:  # with roll = 0: R[1, 1] = cos(pitch), R[2, 1] = -sin(pitch)
        pitch = float(np.arctan2(-m[2, 1], m[1, 1]))
        roll = 0.0
    return pitch, yaw, roll


@dataclass(frozen=True, eq=False)
class Pose:
    """A head pose: the similarity that maps the canonical face onto the observed one.

    Attributes:
        yaw, pitch, roll: Euler angles in **degrees** (AFLW2000-3D convention, module doc).
        scale: s, canonical units → pixels.
        rotation: (3, 3) proper rotation R.
        translation: (3,) t in the y-up image frame ``(x, -y, z)``.
        camera_matrix: (3, 4) ``[s·R | t]``; ``camera_matrix @ [V, 1]`` gives a canonical
            (y-up) point in the y-up image frame (negate y for image coordinates).
    """

    yaw: float
    pitch: float
    roll: float
    scale: float
    rotation: np.ndarray
    translation: np.ndarray
    camera_matrix: np.ndarray

    @property
    def angles_deg(self) -> np.ndarray:
        """(3,) ``[pitch, yaw, roll]`` in degrees — the order of AFLW's ``Pose_Para[:3]``."""
        return np.array([self.pitch, self.yaw, self.roll])

    def project(self, canonical: ArrayLike) -> np.ndarray:
        """Map (N, 3) canonical (y-up) points to (N, 3) image coordinates (y down)."""
        pts = _as_points("canonical", canonical)
        return (pts @ self.camera_matrix[:, :3].T + self.camera_matrix[:, 3]) * _FLIP_Y

    @property
    def image_camera_matrix(self) -> np.ndarray:
        """(3, 4) camera canonical (y-up) → image coordinates (y down): :func:`image_camera`."""
        return image_camera(self.camera_matrix)


def image_camera(camera_matrix: ArrayLike) -> np.ndarray:
    """(3, 4) camera that maps canonical (y-up) points straight to image coordinates (y down).

    The y row of ``camera_matrix`` (canonical → y-up image frame) is negated, so
    ``image_camera(P) @ [V, 1]`` is :meth:`Pose.project` without the final flip (e.g. for
    :func:`prnet.io.draw_pose_box`).
    """
    return _FLIP_Y[:, None] * np.asarray(camera_matrix)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def estimate_pose(
    vertices_img: ArrayLike,
    canonical: ArrayLike,
    weights: ArrayLike | None = None,
) -> Pose:
    """Fit the pose of an observed face from corresponding canonical points.

    Args:
        vertices_img: (N, 3) observed vertices in image coordinates (x right, y down,
            z towards the viewer), e.g. 68 landmarks or the dense mesh.
        canonical: (N, 3) the same points of a canonical face in the 3DMM frame (y up,
            looking towards +z); any scale and position.
        weights: optional (N,) non-negative per-point weights.

    Returns:
        The :class:`Pose` with ``vertices_img ≈ pose.project(canonical)``.

    Raises:
        InputShapeError, PRNetError: as :func:`similarity_fit`.
    """
    observed = _as_points("vertices_img", vertices_img) * _FLIP_Y
    return _pose(*similarity_fit(canonical, observed, weights))


def _pose(scale: float, rot: np.ndarray, trans: np.ndarray) -> Pose:
    """The :class:`Pose` of a similarity (y-up image frame)."""
    pitch, yaw, roll = np.degrees(matrix_to_angles(rot))
    camera = np.concatenate([scale * rot, trans[:, None]], axis=1)
    return Pose(
        yaw=float(yaw),
        pitch=float(pitch),
        roll=float(roll),
        scale=scale,
        rotation=_readonly(rot),
        translation=_readonly(trans),
        camera_matrix=_readonly(camera),
    )


@dataclass(frozen=True, eq=False)
class PoseTemplate:
    """A canonical point set prepared once for many :func:`estimate_pose` fits with equal
    weights (e.g. a UV layout's face vertices): the same pose (to float rounding), without
    re-centring, re-checking or copying the canonical side per face.

    With the canonical points centred, Σ (x − μx)(c − μc)ᵀ = Σ x (c − μc)ᵀ, so a fit costs one
    (3, N) × (N, 3) product and a 3×3 SVD.

    Attributes:
        mean: (3,) mean of the canonical points.
        centred: (N, 3) float64 canonical points minus their mean.
        var: mean squared distance of the canonical points from their mean.
    """

    mean: np.ndarray
    centred: np.ndarray
    var: float

    @classmethod
    def of(cls, canonical: ArrayLike) -> PoseTemplate:
        """The template of (N, 3) canonical points (3DMM frame, y up), N ≥ 3.

        Raises:
            InputShapeError, PRNetError: as :func:`similarity_fit`.
        """
        c = _as_points("canonical", canonical)
        if c.shape[0] < 3:
            raise InputShapeError(f"canonical: need at least 3 points, got {c.shape[0]}")
        mean = c.mean(0)
        centred = c - mean
        var = float(np.einsum("ij,ij->", centred, centred) / c.shape[0])
        if var <= 1e-12 * max(1.0, float(np.abs(c).max())) ** 2:
            raise PRNetError("canonical: points collapse to a single point")
        return cls(_readonly(mean), _readonly(centred), var)

    def fit(self, vertices_img: ArrayLike) -> Pose:
        """:func:`estimate_pose` of (N, 3) observed vertices (image coordinates) against the
        template's canonical points, equal weights.

        Raises:
            InputShapeError: not (N, 3) with the template's N. PRNetError: NaN or inf.
        """
        x = np.asarray(vertices_img)
        if x.shape != self.centred.shape:
            raise InputShapeError(f"vertices_img: expected shape {self.centred.shape}, got "
                                  f"{x.shape}")
        n = x.shape[0]
        xt = x.T.astype(np.float64)  # (3, N)
        return self.from_moments(xt.sum(1) / n, (xt @ self.centred) / n)

    def from_moments(self, mean: np.ndarray, cov: np.ndarray) -> Pose:
        """:meth:`fit` from the observed points' moments: their (3,) mean and the (3, 3)
        ``Σ x·(c − μc)ᵀ / N`` against the template (image frame).

        Raises:
            PRNetError: NaN or inf.
        """
        if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
            raise PRNetError("vertices_img: contains NaN or inf")
        cov = cov * _FLIP_Y[:, None]  # rows to the y-up frame
        return _pose(*_similarity_from_moments(cov, self.var, self.mean, mean * _FLIP_Y))
