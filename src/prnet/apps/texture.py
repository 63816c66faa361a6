"""UV textures of reconstructed faces, with self-occlusion masking and mirror filling.

A UV texture is the image sampled at every texel's (x, y) of the position map: texel (u, v) of
the (256, 256) texture holds the colour of the face point with that texel (PRNet's texture
map). Its texel convention is the one of :func:`prnet.io.write_obj`: a vertex with
``uv = FaceResult.uv`` (texel column, row) lands on the centre of that texel, so a 256×256
texture from here can be passed straight to ``write_obj(..., uv=face.uv, texture=tex)``. For
another size ``N`` use :func:`texture_uv` to scale the texel coordinates.

Texels hidden by the face itself (:attr:`FaceResult.visibility`) show whatever occludes them in
the photo. They can be blacked out (``mask_invisible``) and/or filled from the mirrored side of
the face (``fill="mirror"``, via :attr:`UVLayout.sym_texel`) where that side is visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from prnet.errors import InputShapeError, PRNetError
from prnet.geometry.uv import texture_pixels
from prnet.render.uv_texture import masked_texture, resize_texel_mask
from prnet.uv.layout import RES

if TYPE_CHECKING:
    from prnet.pipeline import FaceResult

__all__ = [
    "FILL_MODES",
    "texel_facing",
    "texel_inside",
    "texel_visibility",
    "texture_coords",
    "texture_uv",
    "uv_texture",
]

#: Accepted values of ``fill``.
FILL_MODES = ("mirror", "none")
#: How much better (normal z) a mirror texel must face the camera to replace a seen texel.
_MIRROR_MARGIN = 0.25


def check_fill(fill: str) -> str:
    """Return ``fill`` if it is one of :data:`FILL_MODES`.

    Raises:
        PRNetError: for any other value.
    """
    if fill not in FILL_MODES:
        raise PRNetError(f"fill must be one of {', '.join(FILL_MODES)}, got {fill!r}")
    return fill


def texel_visibility(face: FaceResult) -> np.ndarray:
    """(256, 256) bool: face texels whose surface point the camera sees (z-buffer test)."""
    vis = np.zeros(RES * RES, bool)
    vis[face.layout.face_index] = face.visibility
    return vis.reshape(RES, RES)


def texel_facing(face: FaceResult) -> np.ndarray:
    """(256, 256) float32: z of each face texel's unit normal (1 facing the camera, 0 seen
    edge-on, < 0 facing away); 0 outside the face."""
    from prnet.render import vertex_normals

    nz = vertex_normals(face.vertices, face.triangles)[:, 2]
    if nz[face.visibility].sum() < 0:  # orientation follows the triangle winding
        nz = -nz
    out = np.zeros(RES * RES, np.float32)
    out[face.layout.face_index] = nz
    return out.reshape(RES, RES)


def texel_inside(face: FaceResult, margin: float) -> np.ndarray:
    """(256, 256) bool: texels whose image point lies at least ``margin`` pixels inside the
    face's silhouette (its rendered coverage); near the silhouette a slightly misplaced mesh
    samples the background."""
    k = max(1, round(margin))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    inner = cv2.erode(face.raster.mask.astype(np.uint8), kernel)
    h, w = inner.shape
    x = np.clip(np.rint(face.posmap[..., 0]), 0, w - 1).astype(np.intp)
    y = np.clip(np.rint(face.posmap[..., 1]), 0, h - 1).astype(np.intp)
    return (inner[y, x] > 0) & face.layout.face_mask


def texture_coords(
    face: FaceResult, fill: str = "none", min_facing: float = 0.0, margin: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each texel of a 256×256 texture samples the image.

    Args:
        face: a reconstructed face.
        fill: ``"mirror"``: a face texel not seen samples the image at its mirror texel
            instead, when that one is seen; ``"none"``: every texel samples its own point.
        min_facing: if > 0, a texel counts as seen when it is visible and its normal faces
            the camera at least this much (:func:`texel_facing`; e.g. 0.1 leaves out
            surfaces seen at grazing angles, whose colours are smeared or background), and
            with ``"mirror"`` a seen texel is also replaced by its mirror when that one
            faces the camera clearly better (by more than 0.25).
        margin: if > 0, texels closer than this many pixels to the face's silhouette do not
            count as seen (:func:`texel_inside`).

    Returns:
        ``(xy, known, filled)``: (256, 256, 2) float32 image coordinates; (256, 256) bool,
        face texels whose colour is really seen (seen, or filled from a seen mirror);
        (256, 256) bool, the texels that were filled from the mirror.
    """
    check_fill(fill)
    layout = face.layout
    xy = np.ascontiguousarray(face.posmap[..., :2], dtype=np.float32)
    vis = texel_visibility(face)
    su, sv = layout.sym_texel[..., 0], layout.sym_texel[..., 1]
    if margin > 0:
        vis = vis & texel_inside(face, margin)
    if min_facing > 0:
        q = np.where(vis, texel_facing(face), -np.inf)
        seen = q >= min_facing
        # best view: the mirror texel also replaces a seen one that it sees much better
        better = q[sv, su] > q + _MIRROR_MARGIN
    else:
        seen = vis
        better = np.zeros_like(vis)
    filled = np.zeros_like(vis)
    if fill == "mirror":
        filled = layout.face_mask & seen[sv, su] & (~seen | better)
        xy = np.where(filled[..., None], xy[sv, su], xy)
    return xy, seen | filled, filled


def texture_uv(uv: np.ndarray, size: int) -> np.ndarray:
    """Scale 256-texel coordinates (e.g. :attr:`FaceResult.uv`) to a ``size``² texture, float32.

    Texel centres map to texel centres: ``u' = (u + 0.5) · size / 256 − 0.5`` (the convention
    of ``cv2.resize`` and of :func:`prnet.io.write_obj`; :func:`prnet.geometry.uv.texture_pixels`).
    """
    return texture_pixels(uv, size, RES, np.float32)


def uv_texture(
    face: FaceResult,
    size: int = RES,
    fill: str = "none",
    mask_invisible: bool = False,
    image: np.ndarray | None = None,
) -> np.ndarray:
    """The face's UV texture, optionally with hidden texels masked or mirror-filled.

    With ``fill="none"`` this equals :meth:`FaceResult.uv_texture`.

    Args:
        face: a reconstructed face.
        size: side of the texture in texels (the 256 position map is resampled bilinearly).
        fill: ``"mirror"`` or ``"none"`` (see :func:`texture_coords`).
        mask_invisible: black out texels whose colour is not seen (after filling).
        image: sample this (H, W, 3) uint8 image instead of ``face.image`` (same size).

    Returns:
        (size, size, 3) uint8 RGB; texels outside the face are black.

    Raises:
        PRNetError: bad ``fill``; InputShapeError: bad ``size`` or ``image``.
    """
    check_fill(fill)
    size = int(size)
    if size < 8:
        raise InputShapeError(f"texture size must be >= 8 texels, got {size}")
    img = face.image if image is None else np.asarray(image)
    if img.shape != face.image.shape or img.dtype != np.uint8:
        raise InputShapeError(
            f"image must be uint8 {face.image.shape} like the face's image, "
            f"got {img.dtype} {img.shape}"
        )
    if fill == "none" and image is None:
        return face.uv_texture(size, mask_invisible=mask_invisible)
    xy, known, filled = texture_coords(face, fill)
    keep = (known if mask_invisible else np.ones_like(known)) & face.layout.face_mask
    if size != RES:
        # Resample own and mirrored coordinates separately (each is smooth), then choose.
        own_xy = np.ascontiguousarray(face.posmap[..., :2], np.float32)
        sym = face.layout.sym_texel
        own = cv2.resize(own_xy, (size, size))
        mirrored = cv2.resize(np.ascontiguousarray(own_xy[sym[..., 1], sym[..., 0]]), (size, size))
        xy = np.where(resize_texel_mask(filled, size)[..., None], mirrored, own)
    return masked_texture(img, xy, keep, size)
