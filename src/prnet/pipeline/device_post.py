"""The post-network stages in torch, batched over faces, on any device (the GPU path).

The NumPy stages (:func:`prnet.pipeline.posmaps.uncrop_maps`, :meth:`UVLayout.landmarks`,
:meth:`UVLayout.vertices`, :func:`prnet.geometry.pose.estimate_pose` behind
``FaceResult.pose``) stay the CPU path; these are the same computations on (F, …) tensors, so
that network output need not leave the device before the per-face rows (68 landmarks, pose):

* :func:`uncrop_maps_torch` — crop-space maps × inverse crop similarities → image-space maps;
* :meth:`DeviceLayout.landmarks` / :meth:`DeviceLayout.vertices` — the layout's texels;
* :func:`similarity_fit_torch` — batched Umeyama fit (one batched 3×3 SVD in float64);
* :func:`estimate_poses_torch` — the :class:`~prnet.geometry.pose.Pose` fields of every face;
* :class:`DevicePost` — all of it from a batch of network outputs to :class:`DeviceFaces`.

Large sums (the maps, the pose covariance over ~55K vertices) run in ``dtype`` (float32 by
default); the small matrices (inverse crops, 3×3 SVD, angles) in float64. Against the float64
NumPy path: landmarks within 1e-3 px, angles within 1e-3°, camera matrices within 1e-5
relative (``tests/pipeline/test_device_post.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from prnet.geometry.crop import CROP
from prnet.uv.layout import RES, UVLayout
from prnet.validation import MAX_EXTENT_CROPS, MIN_LANDMARK_SPREAD

__all__ = [
    "DeviceFaces",
    "DeviceLayout",
    "DevicePoses",
    "DevicePost",
    "estimate_poses_torch",
    "invert_similarities",
    "matrix_to_angles_torch",
    "plausible_torch",
    "similarity_fit_torch",
    "uncrop_maps_torch",
]

# Image coordinates (y down) → the pose's y-up frame (prnet.geometry.pose._FLIP_Y).
_FLIP_Y = (1.0, -1.0, 1.0)
# cos(yaw) below this is gimbal lock (prnet.geometry.pose._GIMBAL_EPS).
_GIMBAL_EPS = 1e-4


def invert_similarities(matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, 2, 3) image → crop similarities → their (K, 2, 3) inverses and (K,) scales
    (sqrt |det| of the 2×2 part), in float64."""
    m = matrices.to(torch.float64)
    a = m[:, :, :2]
    inv_a = torch.linalg.inv(a)
    inv_t = -(inv_a @ m[:, :, 2:])
    scale = torch.sqrt(torch.abs(torch.linalg.det(a)))
    return torch.cat([inv_a, inv_t], 2), scale


def uncrop_maps_torch(maps: torch.Tensor, matrices: torch.Tensor, views: int = 1,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """:func:`prnet.pipeline.posmaps.uncrop_maps` in torch: (K, …, 3) crop-space points →
    image space (x, y by the inverse similarity, z divided by its scale), averaged over each
    face's ``views`` consecutive crops: (K / views, …, 3) in ``dtype``."""
    k = maps.shape[0]
    if k == 0:
        return maps.new_zeros((0, *maps.shape[1:]), dtype=dtype)
    inv, scale = invert_similarities(matrices.to(maps.device))
    # one (3, 3) map per crop: x, y by the inverse 2×2, z by 1 / scale; the offsets added by baddbmm
    lin = torch.zeros((k, 3, 3), dtype=torch.float64, device=maps.device)
    lin[:, :2, :2] = inv[:, :, :2].transpose(1, 2)
    lin[:, 2, 2] = 1.0 / scale
    off = torch.zeros((k, 1, 3), dtype=torch.float64, device=maps.device)
    off[:, 0, :2] = inv[:, :, 2]
    pts = torch.baddbmm(off.to(dtype), maps.to(dtype).reshape(k, -1, 3), lin.to(dtype))
    pts = pts.reshape(maps.shape)
    return pts if views == 1 else pts.reshape(k // views, views, *maps.shape[1:]).mean(1)


@dataclass(frozen=True, eq=False)
class DeviceLayout:
    """The UV layout's index arrays and canonical face as tensors on one device.

    Attributes:
        kpt_index: (68,) long, flat texel index (v·256 + u) of each landmark.
        face_index: (N,) long, flat texel index of each dense vertex.
        canonical_centred: (N, 3) the canonical face minus its mean (``dtype``).
        canonical_mean: (3,) float64 mean of the canonical face.
        canonical_var: float64 scalar tensor, mean squared norm of ``canonical_centred``.
    """

    kpt_index: torch.Tensor
    face_index: torch.Tensor
    canonical_centred: torch.Tensor
    canonical_mean: torch.Tensor
    canonical_var: torch.Tensor

    @classmethod
    def from_layout(cls, layout: UVLayout, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32) -> DeviceLayout:
        """Upload ``layout``'s landmark and face texels and its canonical face to ``device``."""
        kpt = np.asarray(layout.kpt_uv, np.int64)
        can = np.asarray(layout.canonical, np.float64)
        mean = can.mean(0)
        centred = can - mean
        var = float(np.einsum("ij,ij->i", centred, centred).mean())
        return cls(torch.as_tensor(kpt[:, 1] * RES + kpt[:, 0], device=device),
                   torch.as_tensor(np.asarray(layout.face_index, np.int64), device=device),
                   torch.as_tensor(centred, dtype=dtype, device=device),
                   torch.as_tensor(mean, device=device),
                   torch.tensor(var, dtype=torch.float64, device=device))

    def landmarks(self, posmaps: torch.Tensor) -> torch.Tensor:
        """(F, 256, 256, 3) position maps → (F, 68, 3) landmarks."""
        return posmaps.reshape(len(posmaps), RES * RES, 3)[:, self.kpt_index]

    def vertices(self, posmaps: torch.Tensor) -> torch.Tensor:
        """(F, 256, 256, 3) position maps → (F, N, 3) dense face vertices."""
        return posmaps.reshape(len(posmaps), RES * RES, 3)[:, self.face_index]

    def vertices_by_axis(self, posmaps: torch.Tensor) -> torch.Tensor:
        """(F, 256, 256, 3) position maps → (F, 3, N) dense vertices, x, y, z each contiguous
        (the layout the reductions over vertices run fastest in)."""
        return posmaps.reshape(len(posmaps), RES * RES, 3).transpose(1, 2)[:, :, self.face_index]


def similarity_fit_torch(src_centred: torch.Tensor, src_mean: torch.Tensor,
                         src_var: torch.Tensor, dst: torch.Tensor, by_axis: bool = False,
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched least-squares similarity ``dst ≈ s·R·src + t`` (Umeyama; uniform weights), as
    :func:`prnet.geometry.pose.similarity_fit` for each face.

    Args:
        src_centred: (N, 3) source points minus their mean (shared by all faces).
        src_mean: (3,) their mean; src_var: scalar, their mean squared norm.
        dst: (F, N, 3) target points, or (F, 3, N) with ``by_axis``.

    Returns:
        ``(s, R, t)``: (F,), (F, 3, 3) proper rotations, (F, 3), all float64.
    """
    d = dst if by_axis else dst.transpose(1, 2)
    n = d.shape[2]
    mu_d = d.mean(2, keepdim=True)
    cov = ((d - mu_d) @ src_centred.to(d.dtype)).to(torch.float64) / n
    u, sv, vt = torch.linalg.svd(cov)
    sign = torch.ones_like(sv)
    sign[:, 2] = torch.where(torch.linalg.det(u) * torch.linalg.det(vt) < 0, -1.0, 1.0)
    rot = (u * sign[:, None, :]) @ vt
    scale = (sv * sign).sum(1) / src_var
    trans = mu_d[:, :, 0].to(torch.float64) - scale[:, None] * (rot @ src_mean.to(rot))
    return scale, rot, trans


def matrix_to_angles_torch(rotation: torch.Tensor) -> torch.Tensor:
    """:func:`prnet.geometry.pose.matrix_to_angles` for (F, 3, 3) rotations → (F, 3)
    ``[pitch, yaw, roll]`` in radians (gimbal lock: roll 0, the in-plane angle in pitch)."""
    m = rotation
    cos_yaw = torch.hypot(m[:, 0, 0], m[:, 0, 1])
    yaw = torch.atan2(-m[:, 0, 2], cos_yaw)
    locked = cos_yaw <= _GIMBAL_EPS
    pitch = torch.where(locked, torch.atan2(-m[:, 2, 1], m[:, 1, 1]),
                        torch.atan2(m[:, 1, 2], m[:, 2, 2]))
    roll = torch.where(locked, torch.zeros_like(yaw), torch.atan2(m[:, 0, 1], m[:, 0, 0]))
    return torch.stack([pitch, yaw, roll], 1)


@dataclass(frozen=True, eq=False)
class DevicePoses:
    """The :class:`~prnet.geometry.pose.Pose` of F faces as float64 tensors.

    Attributes:
        angles_deg: (F, 3) ``[pitch, yaw, roll]`` in degrees (``Pose.angles_deg``).
        scale: (F,); rotation: (F, 3, 3); translation: (F, 3) (y-up image frame).
        camera_matrix: (F, 3, 4) ``[s·R | t]``.
    """

    angles_deg: torch.Tensor
    scale: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor
    camera_matrix: torch.Tensor

    @property
    def yaw(self) -> torch.Tensor:
        return self.angles_deg[:, 1]

    @property
    def pitch(self) -> torch.Tensor:
        return self.angles_deg[:, 0]

    @property
    def roll(self) -> torch.Tensor:
        return self.angles_deg[:, 2]


def estimate_poses_torch(vertices_img: torch.Tensor, layout: DeviceLayout,
                         by_axis: bool = False) -> DevicePoses:
    """``FaceResult.pose`` for F faces at once: the similarity fit of the canonical face onto
    each face's (F, N, 3) dense vertices (image coordinates, y down; (F, 3, N) with
    ``by_axis``, as :meth:`DeviceLayout.vertices_by_axis` gives them)."""
    flip = torch.tensor(_FLIP_Y, dtype=vertices_img.dtype, device=vertices_img.device)
    flipped = vertices_img * (flip[:, None] if by_axis else flip)
    scale, rot, trans = similarity_fit_torch(layout.canonical_centred, layout.canonical_mean,
                                             layout.canonical_var, flipped, by_axis)
    camera = torch.cat([scale[:, None, None] * rot, trans[:, :, None]], 2)
    return DevicePoses(torch.rad2deg(matrix_to_angles_torch(rot)), scale, rot, trans, camera)


def plausible_torch(landmarks: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                    matrices: torch.Tensor) -> torch.Tensor:
    """(F,) bool: the rules of :func:`prnet.validation.check_posmaps` per face (finite; the
    landmarks span at least ``MIN_LANDMARK_SPREAD`` crop px in x and y; the face at most
    ``MAX_EXTENT_CROPS`` crop sides across and centred within one crop side of its crop), as a
    flag instead of an error, from (F, 68, 3) landmarks, the (F, 3) lowest and highest x, y, z
    of each face's vertices (NaN where one is NaN) and the (F, 2, 3) crop of each face."""
    m = matrices.to(torch.float64)
    s = torch.hypot(m[:, 0, 0], m[:, 1, 0])
    spread = (landmarks[..., :2].amax(1) - landmarks[..., :2].amin(1)).to(torch.float64)
    lo, hi = lo.to(torch.float64), hi.to(torch.float64)
    extent = (hi - lo).amax(1) * s / CROP
    centre = (lo[:, :2] + hi[:, :2]) / 2
    centre_crop = (m[:, :, :2] @ centre[:, :, None])[..., 0] + m[:, :, 2]
    off = (centre_crop / CROP - 0.5).abs().amax(1)
    finite = (torch.isfinite(lo).all(1) & torch.isfinite(hi).all(1)
              & torch.isfinite(landmarks).flatten(1).all(1))
    return (finite & (spread.amin(1) * s >= MIN_LANDMARK_SPREAD) & (extent <= MAX_EXTENT_CROPS)
            & (off <= 1.5))


@dataclass(frozen=True, eq=False)
class DeviceFaces:
    """Per-face outputs of :class:`DevicePost`, tensors on its device (F faces, plan order).

    Attributes:
        posmaps: (F, 256, 256, 3) image-space position maps.
        landmarks: (F, 68, 3) image pixels.
        poses: the fitted poses.
        finite: (F,) bool, the face's map is finite (a non-finite one has NaN rows).
        plausible: (F,) bool, the face passes :func:`prnet.validation.check_posmaps`'s rules
            (:func:`plausible_torch`; the NumPy path raises where this is False).
        vertices: (F, N, 3) dense vertices, or None unless asked for.
    """

    posmaps: torch.Tensor
    landmarks: torch.Tensor
    poses: DevicePoses
    finite: torch.Tensor
    plausible: torch.Tensor
    vertices: torch.Tensor | None = None

    def rows(self) -> list[dict]:
        """One JSON-ready dict per face (copied to the host once for the whole batch):
        ``landmarks`` (68 × [x, y, z]), ``yaw``, ``pitch``, ``roll`` (degrees),
        ``camera_matrix`` (3 × 4), ``finite``, ``plausible``, rounded as :func:`prnet.outputs.schema.face_record`
        rounds them."""
        kpt = self.landmarks.to("cpu", torch.float64).numpy().round(2)
        ang = self.poses.angles_deg.cpu().numpy().round(3)
        cam = self.poses.camera_matrix.cpu().numpy().round(6)
        ok, fine = self.finite.cpu().numpy(), self.plausible.cpu().numpy()
        return [{"landmarks": kpt[i].tolist(), "pitch": float(ang[i, 0]),
                 "yaw": float(ang[i, 1]), "roll": float(ang[i, 2]),
                 "camera_matrix": cam[i].tolist(), "finite": bool(ok[i]),
                 "plausible": bool(fine[i])} for i in range(len(kpt))]


class DevicePost:
    """Network output → landmarks, pose (and dense vertices) of every face, on the device.

    Args:
        layout: the UV layout (``PRN.layout``).
        device: torch device of the network output.
        dtype: dtype of the large sums (float32; float64 to match the NumPy path to rounding).
    """

    def __init__(self, layout: UVLayout, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.device, self.dtype = torch.device(device), dtype
        self.layout = DeviceLayout.from_layout(layout, self.device, dtype)

    @torch.inference_mode()
    def __call__(self, maps: torch.Tensor, matrices: torch.Tensor | np.ndarray, views: int = 1,
                 dense: bool = False) -> DeviceFaces:
        """(K, 256, 256, 3) crop-space maps (``prn.network.forward_tensor``'s output) and their
        (K, 2, 3) crop matrices (``views`` consecutive crops per face) → :class:`DeviceFaces`."""
        mats = torch.as_tensor(np.asarray(matrices) if isinstance(matrices, np.ndarray)
                               else matrices, device=self.device)
        posmaps = uncrop_maps_torch(maps.to(self.device), mats, views, self.dtype)
        finite = torch.isfinite(posmaps.flatten(1)).all(1)
        verts = self.layout.vertices_by_axis(posmaps)
        kpt = self.layout.landmarks(posmaps)
        poses = estimate_poses_torch(verts, self.layout, by_axis=True)
        ok = finite & plausible_torch(kpt, verts.amin(2), verts.amax(2), mats[::views])
        return DeviceFaces(posmaps, kpt, poses, finite, ok,
                           verts.transpose(1, 2) if dense else None)
