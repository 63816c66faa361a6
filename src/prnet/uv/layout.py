"""The UV layout: which texel of the 256×256 position map is which point of the face."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from prnet.errors import InputShapeError
from prnet.geometry.pose import Pose, PoseTemplate

RES = 256


@dataclass(frozen=True, eq=False)
class UVLayout:
    """prnet's UV layout (built by ``scripts/build_uv_layout.py`` from the BFM mean shape).

    Attributes:
        face_mask: (256, 256) bool, texels of the face (no neck, no ears).
        weight_mask: (256, 256) float32 training weights (keypoint 16, eyes/nose/mouth 4, face 3, neck 0).
        region: (256, 256) uint8, 0 outside, 1 neck, 2 face, 3 eyes/nose/mouth, 4 keypoint texel.
        kpt_uv: (68, 2) int (u, v) texel of each of the 68 landmarks: the texels calibrated to the
            68-point convention of AFLW2000-3D / 300W-LP (``assets/landmark_texels.npz``, written by
            ``scripts/calibrate_landmarks.py``) when that asset exists, else ``kpt_uv_bfm``.
        kpt_uv_bfm: (68, 2) int texels of the BFM's 68 keypoint vertices (the training weight
            mask's keypoint texels).
        triangles: (M, 3) int32 mesh of the face texels (indices into the face-texel list).
        canonical: (N, 3) float32 mean face at the face texels (y-up 3DMM frame, BFM units / 1e4).
        canonical_kpt: (68, 3) the mean face's landmarks, same frame.
        canonical_map: (256, 256, 3) the mean face at every texel, same frame.
        texel_vid, texel_bary: (256, 256, 3) BFM vertex ids and barycentric weights of each texel.
        texel_valid: (256, 256) bool, texels covered by the BFM mesh.
        sym_texel: (256, 256, 2) int (u, v) of the mirror texel.
        sym_vertex: (53215,) BFM vertex index of each vertex's mirror.
    """

    face_mask: np.ndarray
    weight_mask: np.ndarray
    region: np.ndarray
    kpt_uv: np.ndarray
    kpt_uv_bfm: np.ndarray
    triangles: np.ndarray
    canonical: np.ndarray
    canonical_kpt: np.ndarray
    canonical_map: np.ndarray
    texel_vid: np.ndarray
    texel_bary: np.ndarray
    texel_valid: np.ndarray
    sym_texel: np.ndarray
    sym_vertex: np.ndarray
    face_index: np.ndarray = field(init=False)  # (N,) flat texel index of each face vertex

    def __post_init__(self) -> None:
        object.__setattr__(self, "face_index", np.flatnonzero(self.face_mask.ravel()))

    @property
    def n_vertices(self) -> int:
        return int(self.face_index.size)

    @property
    def face_uv(self) -> np.ndarray:
        """(N, 2) float32 texel (u, v) of each face vertex."""
        return np.stack([self.face_index % RES, self.face_index // RES], 1).astype(np.float32)

    @cached_property
    def pose_template(self) -> PoseTemplate:
        """The canonical face vertices prepared once for pose fits (:class:`PoseTemplate`)."""
        return PoseTemplate.of(self.canonical)

    @cached_property
    def pose_weights(self) -> np.ndarray:
        """(256·256, 4) float64: per texel ``[c − μc, 1] / N`` for the N face texels (``c``
        their canonical points), 0 elsewhere: one product with a position map gives its
        face's pose moments (:meth:`pose`)."""
        t, n = self.pose_template, len(self.face_index)
        w = np.zeros((RES * RES, 4))
        w[self.face_index, :3], w[self.face_index, 3] = t.centred / n, 1.0 / n
        return w

    def pose(self, posmap: np.ndarray) -> Pose:
        """The head pose of a (256, 256, 3) position map: :meth:`PoseTemplate.fit` of its
        vertices (1.5 ms), as one product over the map (0.3 ms).

        Raises:
            PRNetError: NaN or inf in the face's vertices.
        """
        _check_posmap(posmap)
        m = posmap.reshape(RES * RES, 3).T.astype(np.float64) @ self.pose_weights
        if not np.isfinite(m).all():  # NaN off the face counts 0 times in the vertex fit
            return self.pose_template.fit(self.vertices(posmap))
        return self.pose_template.from_moments(m[:, 3], m[:, :3])

    @property
    def head_centre(self) -> np.ndarray:
        """(3,) centre of the UV unwrap (behind the face, nose height), canonical frame."""
        return (projection_centre(self.canonical_kpt.astype(np.float64) * 1e4) / 1e4).astype(np.float32)

    def landmarks(self, posmap: np.ndarray) -> np.ndarray:
        """(…, 256, 256, 3) position map(s) → (…, 68, 3) landmarks."""
        _check_posmap(posmap)
        return posmap[..., self.kpt_uv[:, 1], self.kpt_uv[:, 0], :]

    def vertices(self, posmap: np.ndarray) -> np.ndarray:
        """(…, 256, 256, 3) position map(s) → (…, N, 3) dense face vertices."""
        _check_posmap(posmap)
        return posmap.reshape(*posmap.shape[:-3], RES * RES, 3)[..., self.face_index, :]

    def posmap_from_mesh(self, vertices: np.ndarray) -> np.ndarray:
        """(…, 53215, 3) BFM-topology vertices → (…, 256, 256, 3) position map (a fixed linear map)."""
        g = vertices[..., self.texel_vid, :]  # (…, 256, 256, 3, 3)
        return np.einsum("hwk,...hwkc->...hwc", self.texel_bary, g)

    def mirror_posmap(self, posmap: np.ndarray, width: float) -> np.ndarray:
        """Position map of the horizontally flipped image (``x → width − 1 − x``)."""
        m = posmap[..., self.sym_texel[..., 1], self.sym_texel[..., 0], :].copy()
        m[..., 0] = width - 1 - m[..., 0]
        return m


def projection_centre(kp: np.ndarray) -> np.ndarray:
    """Centre of the spherical unwrap: on the symmetry plane, at nose-tip height, behind the face.

    Its depth is the cylinder axis equidistant from the nose tip and the jaw ends, moved back by
    0.55 face widths; from there every face point is seen once (no fold, even under the nose and
    chin), which the layout tests check.
    """
    x0 = kp[:, 0].mean()
    nose, j0, j16 = kp[30], kp[0], kp[16]
    half_w = (j16[0] - j0[0]) / 2
    jz = (j0[2] + j16[2]) / 2
    z0 = (nose[2] ** 2 - half_w**2 - jz**2) / (2 * (nose[2] - jz))
    return np.array([x0, nose[1], z0 - 0.55 * 2 * half_w])


def mean_posmap(layout: UVLayout, scale: float = 1.6) -> np.ndarray:
    """The mean face, frontal, as a (256, 256, 3) position map in the crop a landmark box gives.

    Crop convention as :func:`prnet.geometry.crop.square_from_landmarks`; z centred on 128 over the
    face texels.
    """
    flip = np.array([1.0, -1.0, 1.0])
    kp = layout.canonical_kpt * flip
    lo, hi = kp[:, :2].min(0), kp[:, :2].max(0)
    s = (RES - 1) / (scale * (hi - lo).mean())
    m = (layout.canonical_map * flip - np.append((lo + hi) / 2, 0)) * s
    m[..., :2] += (RES - 1) / 2
    m[..., 2] += 128 - m[..., 2][layout.face_mask].mean()
    return m.astype(np.float32)


def _check_posmap(posmap: np.ndarray) -> None:
    if posmap.shape[-3:] != (RES, RES, 3):
        raise InputShapeError(f"position map must be (..., 256, 256, 3), got {posmap.shape}")


def default_layout_path() -> Path:
    return Path(str(resources.files("prnet") / "assets" / "uv_layout.npz"))


def default_landmark_texels_path() -> Path:
    return Path(str(resources.files("prnet") / "assets" / "landmark_texels.npz"))


@lru_cache(maxsize=4)
def load_layout(path: str | None = None, landmark_texels: str | None = None) -> UVLayout:
    """Load the committed layout asset (or another built with the same script).

    ``landmark_texels``: a ``.npz`` whose ``kpt_uv`` (68, 2) replaces the landmark texels;
    default the committed calibration when the committed layout is loaded (none for another
    ``path``); ``""`` keeps the BFM keypoint texels.
    """
    with np.load(path or default_layout_path()) as z:
        names = [f for f in UVLayout.__dataclass_fields__ if f not in ("face_index", "kpt_uv_bfm")]
        arrays = {k: z[k] for k in names}
    arrays["kpt_uv_bfm"] = arrays["kpt_uv"]
    if landmark_texels is None and path is None and default_landmark_texels_path().is_file():
        landmark_texels = str(default_landmark_texels_path())
    if landmark_texels:
        with np.load(landmark_texels) as z:
            kpt = z["kpt_uv"]
        mask = arrays["face_mask"]
        if kpt.shape != (68, 2) or not (((kpt >= 0) & (kpt < RES)).all() and mask[kpt[:, 1], kpt[:, 0]].all()):
            raise InputShapeError(f"{landmark_texels}: kpt_uv must be 68 texels of the face mask")
        arrays["kpt_uv"] = kpt
    return UVLayout(**arrays)
