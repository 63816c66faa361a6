"""Drawing helpers for RGB uint8 images. Every function returns a new image (the input is
never modified). Coordinates are image pixels (x right, y down, pixel centres at integers).
"""

from __future__ import annotations

import cv2
import numpy as np

from prnet.errors import InputShapeError
from prnet.render.images import render_shaded
from prnet.render.raster import Raster

__all__ = [
    "LANDMARK_CONTOURS",
    "depth_to_image",
    "draw_dense",
    "draw_landmarks",
    "draw_mesh_overlay",
    "draw_pose_box",
]

#: The 68-point contours: (first index, last index + 1, closed).
LANDMARK_CONTOURS = (
    (0, 17, False),  # jaw line
    (17, 22, False),  # right eyebrow (subject's right, image left)
    (22, 27, False),  # left eyebrow
    (27, 31, False),  # nose bridge
    (31, 36, False),  # lower nose
    (36, 42, True),  # right eye
    (42, 48, True),  # left eye
    (48, 60, True),  # outer lips
    (60, 68, True),  # inner lips
)

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
Color = tuple[int, int, int]


def _check_image(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise InputShapeError(
            f"image must be RGB uint8 with shape (H, W, 3), got {a.shape} {a.dtype}"
        )
    return np.ascontiguousarray(a).copy()


def _points(pts: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(pts, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputShapeError(f"{name} must have shape (K, 2) or (K, 3), got {p.shape}")
    return p[:, :2]


def _default_size(img: np.ndarray) -> int:
    return max(1, round(min(img.shape[:2]) / 300))


def _stamp(img: np.ndarray, xy: np.ndarray, radius: int, colors: np.ndarray) -> None:
    """Draw filled discs (in place), vectorised over points: ``colors`` (K, 3) or (3,)."""
    ok = np.isfinite(xy).all(1)
    xy = np.floor(xy[ok] + 0.5).astype(np.int64)
    col = np.broadcast_to(np.asarray(colors, np.uint8), (ok.size, 3))[ok]
    r = max(0, int(radius))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    disc = ox * ox + oy * oy <= r * r + r  # slightly rounder small discs
    ox, oy = ox[disc], oy[disc]
    x = (xy[:, 0:1] + ox).ravel()
    y = (xy[:, 1:2] + oy).ravel()
    c = np.repeat(col, ox.size, axis=0)
    h, w = img.shape[:2]
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    img[y[inside], x[inside]] = c[inside]


def _fixed(xy: np.ndarray) -> np.ndarray:
    return np.rint(xy * (1 << _SHIFT)).astype(np.int32)


def draw_landmarks(
    img: np.ndarray,
    kpts: np.ndarray,
    visible: np.ndarray | None = None,
    color: Color = (0, 255, 0),
    hidden_color: Color = (255, 0, 0),
    radius: int | None = None,
    thickness: int | None = None,
    contours: bool = True,
) -> np.ndarray:
    """Draw landmarks as dots and, for 68 points, the standard contours.

    Args:
        img: (H, W, 3) RGB uint8 (not modified).
        kpts: (K, 2+) points in image pixels; extra columns (z) are ignored; NaN skipped.
        visible: optional (K,) bool; hidden points are drawn in ``hidden_color``.
        color: RGB of the contours and visible points.
        hidden_color: RGB of hidden points.
        radius: dot radius in pixels (default scales with the image size).
        thickness: contour thickness (default scales with the image size).
        contours: draw the 68-point contour lines (ignored unless K == 68).

    Returns:
        A new (H, W, 3) uint8 image.
    """
    out = _check_image(img)
    xy = _points(kpts, "kpts")
    size = _default_size(out)
    r = size if radius is None else int(radius)
    t = size if thickness is None else int(thickness)
    if contours and xy.shape[0] == 68 and np.isfinite(xy).all():
        fx = _fixed(xy)
        for closed in (False, True):
            polys = [fx[a:b].reshape(-1, 1, 2) for a, b, c in LANDMARK_CONTOURS if c == closed]
            cv2.polylines(out, polys, closed, color, max(1, t), cv2.LINE_AA, _SHIFT)
    cols = np.tile(np.asarray(color, np.uint8), (xy.shape[0], 1))
    if visible is not None:
        vis = np.asarray(visible, dtype=bool).reshape(-1)
        if vis.shape[0] != xy.shape[0]:
            raise InputShapeError(f"visible must have shape ({xy.shape[0]},), got {vis.shape}")
        cols[~vis] = hidden_color
    _stamp(out, xy, r, cols)
    return out


def draw_dense(
    img: np.ndarray,
    vertices: np.ndarray,
    step: int = 4,
    color: Color = (0, 200, 255),
    radius: int = 0,
) -> np.ndarray:
    """Draw every ``step``-th vertex (x, y) as a dot of ``radius`` pixels (0: one pixel)."""
    out = _check_image(img)
    xy = _points(vertices, "vertices")
    if int(step) < 1:
        raise InputShapeError(f"step must be >= 1, got {step}")
    _stamp(out, xy[:: int(step)], radius, np.asarray(color, np.uint8))
    return out


def draw_pose_box(
    img: np.ndarray,
    camera_matrix: np.ndarray,
    center: np.ndarray | None = None,
    size: float = 90.0,
    color: Color = (0, 255, 0),
    thickness: int | None = None,
) -> np.ndarray:
    """Draw a 3D box showing head pose (cf. PRNet's pose box).

    A box in model coordinates -- rear square of half-side ``size`` at z = 0, larger front
    square (half-side ``1.15 size``) at z = ``1.2 size`` towards the camera -- is projected
    with the affine camera ``P`` (3x4: ``[x, y, 1]^T ~ P [X, Y, Z, 1]^T``, first two rows used).

    Args:
        img: (H, W, 3) RGB uint8 (not modified).
        camera_matrix: (3, 4) affine camera matrix, model -> image pixels.
        center: optional (2,) image point where the rear square is centred (e.g. the mean
            of landmarks 0..26); default: where ``P`` puts it.
        size: half-side of the rear square in model units.
        color: RGB of the lines.
        thickness: line thickness (default scales with the image size).

    Returns:
        A new (H, W, 3) uint8 image.
    """
    out = _check_image(img)
    p = np.asarray(camera_matrix, dtype=np.float64)
    if p.shape != (3, 4):
        raise InputShapeError(f"camera_matrix must have shape (3, 4), got {p.shape}")
    sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
    rear = np.c_[sq * size, np.zeros(4)]
    front = np.c_[sq * size * 1.15, np.full(4, 1.2 * size)]
    pts = np.r_[rear, front]
    xy = (np.c_[pts, np.ones(8)] @ p.T)[:, :2]
    if center is not None:
        c = np.asarray(center, np.float64).reshape(-1)[:2]
        xy += c - xy[:4].mean(0)
    if not np.isfinite(xy).all():
        raise InputShapeError("camera_matrix projects the box to non-finite points")
    fx = _fixed(xy)
    polys = [fx[:4], fx[4:]] + [fx[[k, k + 4]] for k in range(4)]
    t = _default_size(out) * 2 if thickness is None else int(thickness)
    cv2.polylines(out, [q.reshape(-1, 1, 2) for q in polys], True, color, t, cv2.LINE_AA, _SHIFT)
    return out


def depth_to_image(
    depth: np.ndarray,
    zero_is_background: bool = True,
    colormap: int | None = None,
) -> np.ndarray:
    """Visualise a depth map as RGB uint8: nearer (larger z) is brighter.

    Covered pixels are min-max normalised to [1, 255]; the background (non-finite values,
    and 0 when ``zero_is_background``, as returned by :func:`prnet.render.render_depth`) is 0.

    Args:
        depth: (H, W) float depth (e.g. ``render_depth`` or ``Raster.depth``).
        zero_is_background: treat exact zeros as background.
        colormap: optional OpenCV colormap id (e.g. ``cv2.COLORMAP_JET``); default grey.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    d = np.asarray(depth, dtype=np.float64)
    if d.ndim != 2:
        raise InputShapeError(f"depth must have shape (H, W), got {d.shape}")
    fg = np.isfinite(d)
    if zero_is_background:
        fg &= d != 0
    g = np.zeros(d.shape, np.uint8)
    if fg.any():
        lo, hi = d[fg].min(), d[fg].max()
        scale = 254.0 / (hi - lo) if hi > lo else 0.0
        g[fg] = np.rint(1.0 + (d[fg] - lo) * scale).astype(np.uint8)
    if colormap is None:
        return np.repeat(g[:, :, None], 3, axis=2)
    rgb = cv2.applyColorMap(g, colormap)[:, :, ::-1]
    rgb[~fg] = 0
    return np.ascontiguousarray(rgb)


def draw_mesh_overlay(
    img: np.ndarray,
    vertices: np.ndarray,
    triangles: np.ndarray,
    alpha: float = 0.6,
    color: Color = (255, 255, 255),
    light: tuple[float, float, float] = (0.0, 0.0, 1.0),
    ambient: float = 0.3,
    raster: Raster | None = None,
) -> np.ndarray:
    """Blend a shaded rendering of the mesh over the image.

    The mesh is z-buffered with :func:`prnet.render.rasterize` and shaded with Lambertian
    (Gouraud) shading from area-weighted per-vertex normals, light from ``light`` (image
    axes; default from the viewer). Covered pixels become
    ``(1 - alpha) * img + alpha * shade * color``; others are unchanged.

    Args:
        img: (H, W, 3) RGB uint8 (not modified).
        vertices: (N, 3) float in this image's pixels.
        triangles: (M, 3) integer indices.
        alpha: opacity of the mesh in [0, 1].
        color: RGB albedo of the mesh.
        light: light direction.
        ambient: ambient term in [0, 1].
        raster: the mesh's :func:`prnet.render.rasterize` result for this image size, to
            reuse (optional).

    Returns:
        A new (H, W, 3) uint8 image.
    """
    out = _check_image(img)
    if not 0.0 <= alpha <= 1.0:
        raise InputShapeError(f"alpha must lie in [0, 1], got {alpha}")
    h, w = out.shape[:2]
    shade, mask = render_shaded(vertices, triangles, h, w, light=light, ambient=ambient,
                                raster=raster)
    if mask.any():
        lit = shade[mask][:, None] * np.asarray(color, np.float32)[None, :]
        blend = (1.0 - alpha) * out[mask].astype(np.float32) + alpha * lit
        out[mask] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out
