"""Build prnet's own UV layout from the BFM mean shape (run by ``scripts/build_uv_layout.py``).

Parameterisation: a spherical unwrap seen from a point behind the face (u = azimuth,
v = elevation), re-balanced along u and v so that texel density over the face is even, then scaled
so the face region fills the 256×256 map. Every texel of the map is a fixed barycentric
combination of three BFM vertices (a Delaunay triangulation of the vertices' UV positions), so a
ground-truth position map is a linear function of the mesh.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.spatial import Delaunay, cKDTree

from prnet.bfm import BFM
from prnet.uv.layout import RES, projection_centre

# 68-point groups (0-based) used for regions
JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
EYES = (np.arange(36, 42), np.arange(42, 48))
MOUTH = np.arange(48, 60)
REGION_WEIGHTS = {"outside": 0.0, "neck": 0.0, "face": 3.0, "features": 4.0, "keypoint": 16.0}


def _spherical(v: np.ndarray, kp: np.ndarray) -> np.ndarray:
    """(N,3) → (N,2) raw (azimuth, −elevation)·radius coordinates seen from the projection centre."""
    c = projection_centre(kp)
    d = v - c
    r = kp[30, 2] - c[2]
    theta = np.arctan2(d[:, 0], d[:, 2])
    phi = np.arctan2(d[:, 1], np.hypot(d[:, 0], d[:, 2]))
    return np.stack([theta * r, -phi * r], 1)


def _equalise(coord: np.ndarray, weight: np.ndarray, lo: float, hi: float, bins: int = 64) -> np.ndarray:
    """Monotone 1-D remap of ``coord`` so that ``weight`` (3D area per vertex) spreads evenly.

    Only half-way: the density is made more even, not flat, to keep the map smooth.
    """
    edges = np.linspace(lo, hi, bins + 1)
    hist, _ = np.histogram(np.clip(coord, lo, hi), edges, weights=weight)
    hist = np.sqrt(hist + hist.mean() * 0.05)  # soften: halfway between uniform and equalised
    cdf = np.concatenate([[0], np.cumsum(hist)])
    cdf = lo + (hi - lo) * cdf / cdf[-1]
    f = PchipInterpolator(edges, cdf, extrapolate=False)
    # linear (monotone) continuation outside [lo, hi] with the end slopes
    d_lo, d_hi = f.derivative()(edges[[0, -1]])
    out = f(np.clip(coord, lo, hi))
    out = np.where(coord < lo, lo + (coord - lo) * d_lo, out)
    return np.where(coord > hi, hi + (coord - hi) * d_hi, out)


def _face_polygon(kp_uv: np.ndarray, top_v: float) -> np.ndarray:
    """Face outline in UV: the jaw contour, closed over the forehead above the brows.

    ``top_v`` is the v of the top edge of the mesh: the forehead line stays below it.
    """
    brows = kp_uv[BROWS]
    eye_y = kp_uv[36:48, 1].mean()
    lift = min((eye_y - brows[:, 1].min()) * 2.2, (brows[:, 1].min() - top_v) * 0.85)
    top = brows[::-1].copy()
    top[:, 1] -= lift
    # widen the forehead line towards the jaw ends so the temples are included
    top[0, 0] = kp_uv[16, 0] - 0.02 * (kp_uv[16, 0] - kp_uv[0, 0])
    top[-1, 0] = kp_uv[0, 0] + 0.02 * (kp_uv[16, 0] - kp_uv[0, 0])
    return np.concatenate([kp_uv[JAW], top], 0)


def build_layout(bfm: BFM, res: int = RES) -> dict[str, np.ndarray]:
    """Compute every array of the UV layout (see :class:`prnet.uv.layout.UVLayout`)."""
    v = bfm.mean.astype(np.float64)
    kp = v[bfm.keypoints]
    raw = _spherical(v, kp)
    tri_all = Delaunay(raw)
    # per-vertex 3D area share (one third of adjacent UV-Delaunay triangle areas)
    t = tri_all.simplices
    a3 = 0.5 * np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1)
    vert_area = np.bincount(t.ravel(), np.repeat(a3 / 3, 3), len(v))
    kraw = raw[bfm.keypoints]
    centre_col = np.abs(raw[:, 0] - kraw[30, 0]) < 0.05 * np.ptp(kraw[:, 0])
    face0 = _face_polygon(kraw, raw[centre_col, 1].min())
    lo, hi = face0.min(0), face0.max(0)
    in_face = _points_in_polygon(raw, face0)
    w = np.where(in_face, vert_area, 0.0)
    uv = np.stack([_equalise(raw[:, i], w, lo[i], hi[i]) for i in (0, 1)], 1)
    # scale so the face outline spans [margin, res-1-margin]
    kuv = uv[bfm.keypoints]
    face = _face_polygon(kuv, uv[centre_col, 1].min())
    lo, hi = face.min(0), face.max(0)
    margin = np.array([6.0, 4.0])
    scale = (res - 1 - 2 * margin) / (hi - lo)
    uv = (uv - lo) * scale + margin
    # neck: below the jaw line; keep some of it in the map (weight 0) like the original
    keep = (uv[:, 0] > -4) & (uv[:, 0] < res + 3) & (uv[:, 1] > -4) & (uv[:, 1] < res + 3)
    return _rasterise_layout(bfm, uv, keep, res, uv[centre_col, 1].min())


def _points_in_polygon(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Points inside a closed polygon (matplotlib's rule; the committed asset was built with it)."""
    from matplotlib.path import Path as MplPath

    return MplPath(poly).contains_points(p)


def _rasterise_layout(
    bfm: BFM, uv: np.ndarray, keep: np.ndarray, res: int, top_v: float
) -> dict[str, np.ndarray]:
    v = bfm.mean.astype(np.float64)
    ids = np.flatnonzero(keep)
    tri = Delaunay(uv[ids])
    gu, gv = np.meshgrid(np.arange(res, dtype=np.float64), np.arange(res, dtype=np.float64))
    pts = np.stack([gu.ravel(), gv.ravel()], 1)
    simplex = tri.find_simplex(pts)
    valid = simplex >= 0
    T = tri.transform[simplex[valid]]
    b2 = np.einsum("nij,nj->ni", T[:, :2], pts[valid] - T[:, 2])
    bary = np.zeros((len(pts), 3))
    bary[valid] = np.concatenate([b2, 1 - b2.sum(1, keepdims=True)], 1)
    vid = np.zeros((len(pts), 3), np.int64)
    vid[valid] = ids[tri.simplices[simplex[valid]]]
    texel_vid = vid.reshape(res, res, 3)
    texel_bary = bary.reshape(res, res, 3)
    pos = np.einsum("hwk,hwkc->hwc", texel_bary, v[texel_vid])  # canonical 3D per texel

    kuv = uv[bfm.keypoints]
    kpt_uv = np.round(kuv).astype(np.int64)
    face_poly = _face_polygon(kuv, top_v)
    face = _points_in_polygon(pts, face_poly).reshape(res, res) & valid.reshape(res, res)
    # eye/nose/mouth regions: dilated hulls of their landmarks
    feat = np.zeros((res, res), np.uint8)
    pad = 0.25 * np.linalg.norm(kuv[39] - kuv[36])
    for grp in (*EYES, NOSE, MOUTH):
        hull = cv2.convexHull(kuv[grp].astype(np.float32))
        cv2.fillConvexPoly(feat, np.round(hull).astype(np.int32), 1)
    k = max(3, int(round(2 * pad)) | 1)  # noqa: RUF046 (pad is a numpy float)
    feat = cv2.dilate(feat, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool) & face
    below_jaw = valid.reshape(res, res) & ~face & (gv > np.interp(gu, kuv[JAW, 0], kuv[JAW, 1]))
    region = np.zeros((res, res), np.uint8)  # 0 outside, 1 neck, 2 face, 3 features, 4 keypoint
    region[below_jaw] = 1
    region[face] = 2
    region[feat] = 3
    region[kpt_uv[:, 1], kpt_uv[:, 0]] = 4
    weights = np.array([REGION_WEIGHTS[k] for k in ("outside", "neck", "face", "features", "keypoint")])
    weight_mask = weights[region].astype(np.float32)

    # mesh of the UV grid inside the face mask: two triangles per 2×2 block of face texels
    fidx = -np.ones((res, res), np.int64)
    fidx[face] = np.arange(face.sum())
    a, b_, c, d = fidx[:-1, :-1], fidx[:-1, 1:], fidx[1:, :-1], fidx[1:, 1:]
    t1 = np.stack([a, c, b_], -1).reshape(-1, 3)
    t2 = np.stack([b_, c, d], -1).reshape(-1, 3)
    triangles = np.concatenate([t1[(t1 >= 0).all(1)], t2[(t2 >= 0).all(1)]], 0)

    # left-right symmetry: texel whose canonical point is nearest the mirrored point
    x0 = v[bfm.keypoints][:, 0].mean()
    mirrored = pos.reshape(-1, 3) * np.array([-1, 1, 1]) + np.array([2 * x0, 0, 0])
    tree = cKDTree(pos.reshape(-1, 3)[valid])
    _, nn = tree.query(mirrored)
    sym_flat = np.flatnonzero(valid)[nn]
    sym = np.stack([sym_flat % res, sym_flat // res], -1).reshape(res, res, 2)
    vtree = cKDTree(v)
    _, vsym = vtree.query(v * np.array([-1, 1, 1]) + np.array([2 * x0, 0, 0]))

    return {
        "vertex_uv": uv.astype(np.float32),
        "texel_vid": texel_vid.astype(np.int32),
        "texel_bary": texel_bary.astype(np.float32),
        "texel_valid": valid.reshape(res, res),
        "face_mask": face,
        "region": region,
        "weight_mask": weight_mask,
        "kpt_uv": kpt_uv.astype(np.int16),
        "triangles": triangles.astype(np.int32),
        "canonical": pos[face].astype(np.float32) / 1e4,  # y-up 3DMM frame, units of 10 µm·… (BFM/1e4)
        "canonical_kpt": v[bfm.keypoints].astype(np.float32) / 1e4,
        "canonical_map": (pos / 1e4).astype(np.float32),
        "sym_texel": sym.astype(np.int16),
        "sym_vertex": vsym.astype(np.int32),
    }
