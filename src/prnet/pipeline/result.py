"""The result of the pipeline: :class:`FaceResult`, built in one place (:func:`build_faces`).

Cheap outputs (landmarks, pose) never pay for the costly ones: dense colours, the z-buffer,
visibility and frontalisation are computed on first access and cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from prnet.geometry.frontalize import frontalize
from prnet.geometry.pose import Pose
from prnet.pipeline.plan import FacePlan
from prnet.render import Raster, sample_bilinear
from prnet.render.region import (
    Region,
    mesh_region,
    paste,
    place_raster,
    rasterize_region,
    region_visibility,
)
from prnet.render.uv_texture import masked_texture
from prnet.uv.layout import RES, UVLayout
from prnet.validation import check_size


@dataclass(frozen=True, eq=False)
class FaceResult:
    """One reconstructed face. Arrays are in the input image's pixel coordinates (y down, z
    towards the viewer); costly outputs are computed on first access and cached.

    Attributes:
        index: position of the face in the image (left to right).
        box: (4,) x0, y0, x1, y1 of the detection (or of the given box / landmarks).
        score: detector confidence (1.0 for given boxes / landmarks).
        crop_matrix: (2, 3) similarity image → 256×256 network crop.
        posmap: (256, 256, 3) UV position map in image coordinates.
    """

    index: int
    box: np.ndarray
    score: float
    crop_matrix: np.ndarray
    posmap: np.ndarray
    image: np.ndarray = field(repr=False)
    layout: UVLayout = field(repr=False)

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    @cached_property
    def landmarks(self) -> np.ndarray:
        """(68, 3) 3D landmarks."""
        return self.layout.landmarks(self.posmap)

    @cached_property
    def vertices(self) -> np.ndarray:
        """(N, 3) dense vertices (the face texels of the UV map, N ≈ 55K)."""
        return self.layout.vertices(self.posmap)

    @property
    def triangles(self) -> np.ndarray:
        """(M, 3) triangles over :attr:`vertices` (fixed by the UV layout)."""
        return self.layout.triangles

    @property
    def uv(self) -> np.ndarray:
        """(N, 2) texel coordinates (u, v) of each vertex in a 256×256 UV texture."""
        return self.layout.face_uv

    @cached_property
    def colors(self) -> np.ndarray:
        """(N, 3) float32 RGB in [0, 1] sampled from the image at each vertex."""
        v = self.vertices
        return (sample_bilinear(self.image, v[:, 0], v[:, 1]) / 255.0).astype(np.float32)

    @cached_property
    def raster_region(self) -> Region:
        """The pixel box of the image the face's mesh can cover (:func:`mesh_region`); the
        z-buffer work of :attr:`region_raster`, :attr:`visibility` and :meth:`depth` is bounded
        by it, not by the frame."""
        h, w = self.image_shape
        return mesh_region(self.vertices, self.triangles, h, w)

    @cached_property
    def region_raster(self) -> Raster:
        """Z-buffer of the face mesh over :attr:`raster_region` only (that crop of
        :attr:`raster`)."""
        return rasterize_region(self.vertices, self.triangles, self.raster_region)

    @cached_property
    def raster(self) -> Raster:
        """Z-buffer of the face mesh over the whole image (:attr:`region_raster` placed on a
        background frame; allocates (H, W) arrays — prefer :attr:`region_raster`)."""
        return place_raster(self.region_raster, self.raster_region, Region.full(*self.image_shape))

    @property
    def _tolerance(self) -> float:
        return max(1.0, 0.01 * float(np.ptp(self.landmarks[:, 0])))

    @cached_property
    def visibility(self) -> np.ndarray:
        """(N,) bool: vertex seen by the camera (z-buffer test, no self-occlusion)."""
        h, w = self.image_shape
        return region_visibility(self.vertices, self.triangles, h, w, self._tolerance,
                                 self.region_raster, self.raster_region)

    @cached_property
    def landmark_visibility(self) -> np.ndarray:
        """(68,) bool: landmark not hidden by the face itself.

        Inner landmarks (brows, eyes, nose, mouth) use the z-buffer (hidden when the surface at
        their pixel is nearer by more than 2 % of the face width). The 17 jaw points are outline
        points: the BFM's fixed jaw vertices often sit under the cheek's silhouette even in a
        frontal view, so a z-buffer test would hide them; instead a jaw point counts as visible
        while it is on the camera's side of the head: its direction from the head's centre
        (the UV unwrap centre of the canonical face), turned by the fitted pose, points towards
        the camera.
        """
        h, w = self.image_shape
        k = self.landmarks
        tol = max(1.0, 0.02 * float(np.ptp(k[:, 0])))
        pts = np.concatenate([self.vertices, k])
        vis = region_visibility(pts, self.triangles, h, w, tol, self.region_raster,
                                self.raster_region)[-68:]
        d = (self.layout.canonical_kpt[:17] - self.layout.head_centre) @ self.pose.rotation.T
        vis[:17] = d[:, 2] > 0
        return vis

    @cached_property
    def pose(self) -> Pose:
        """Head pose from a similarity fit of all vertices to the canonical face
        (:func:`~prnet.geometry.pose.estimate_pose`, computed by :meth:`UVLayout.pose
        <prnet.uv.layout.UVLayout.pose>` from the position map in one product)."""
        return self.layout.pose(self.posmap)

    @cached_property
    def frontal_vertices(self) -> np.ndarray:
        """(N, 3) the face's own shape with pose removed, in the canonical y-up frame."""
        return frontalize(self.vertices, self.layout.canonical)

    def depth(self, normalize: bool = True, region: Region | None = None) -> np.ndarray:
        """Depth image of the face: z of the nearest surface (image pixels, larger nearer), 0 on
        the background; normalised to [0, 1] over the mesh's vertices by default.

        Args:
            normalize: map z linearly to [0, 1] (min vertex z → 0, max → 1), as PRNet does.
            region: the pixels to return, (region.height, region.width); default the whole
                image (H, W). Only the mesh's box is rasterised either way.
        """
        h, w = self.image_shape
        target = Region.full(h, w) if region is None else region
        r = self.region_raster
        mask = r.triangle >= 0
        z = np.zeros(r.shape, np.float32)
        if mask.any():
            vals = r.depth[mask]
            if normalize:
                used = np.zeros(len(self.vertices), bool)
                used[self.triangles.ravel()] = True
                vz = self.vertices[used, 2].astype(np.float64)
                vz = vz[np.isfinite(vz)]
                lo, hi = float(vz.min()), float(vz.max())
                vals = np.clip((vals - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
            z[mask] = vals
        if self.raster_region.empty:
            return np.zeros(target.shape, np.float32)
        return paste(z, self.raster_region, target, 0)

    def uv_texture(self, size: int = RES, mask_invisible: bool = False) -> np.ndarray:
        """(size, size, 3) uint8 UV texture sampled from the image (PRNet's texture map).

        Raises:
            InvalidInputError: ``size`` not an integer in [16, 4096].
        """
        size = check_size("size", size)
        keep = np.zeros(RES * RES, bool)
        keep[self.layout.face_index] = self.visibility if mask_invisible else True
        return masked_texture(self.image, self.posmap[..., :2], keep.reshape(RES, RES), size)

    def with_posmap(self, posmap: np.ndarray, index: int | None = None) -> FaceResult:
        """The same face with another image-space position map (e.g. a temporally smoothed
        one) and optionally another index; nothing computed is carried over."""
        return FaceResult(self.index if index is None else index, self.box, self.score,
                          self.crop_matrix, posmap, self.image, self.layout)

    def to_dict(self) -> dict:
        """JSON-ready record of the face (:func:`prnet.outputs.schema.face_record`)."""
        from prnet.outputs.schema import face_record

        return face_record(self)


def build_faces(image: np.ndarray, plans: Sequence[FacePlan], posmaps: Sequence[np.ndarray],
                layout: UVLayout, order: str = "left_to_right") -> list[FaceResult]:
    """The :class:`FaceResult` of each planned face of ``image`` and its image-space map.

    ``order="left_to_right"`` sorts the faces by box centre x (stable) and numbers them so;
    ``order="input"`` keeps the order of ``plans``.
    """
    if order not in ("left_to_right", "input"):
        raise ValueError(f"order must be 'left_to_right' or 'input', got {order!r}")
    idx = range(len(plans))
    if order == "left_to_right":
        idx = np.argsort([p.box[0] + p.box[2] for p in plans], kind="stable")
    return [FaceResult(j, np.asarray(plans[i].box, np.float32), float(plans[i].score),
                       plans[i].crop_matrix, posmaps[i], image, layout)
            for j, i in enumerate(idx)]
