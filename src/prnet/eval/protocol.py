"""The AFLW2000-3D benchmark runner: predictions, per-image scores, summaries and reports.

>>> from prnet import PRN                                             # doctest: +SKIP
>>> ev = evaluate_aflw2000(load_aflw2000(folder), {"prnet": PRNPredictor(PRN())}, load_bfm())
>>> ev.summary()["nme2d_balanced"]                                    # doctest: +SKIP

Protocol (PRNet ECCV'18 / 3DDFA; ``../shared/README.md``):

* **Crop.** ``"gt"``: PRNet's ``run_basics`` — the crop of the 68 ground-truth landmarks' box
  (side 1.6 × mean(w, h)). ``"detector"``: the PRN detector; when it finds several faces the
  one whose box overlaps the landmark box most is used. No face, or no detection that
  overlaps the landmark box at all, is a **failure**.
* **Failures** are never dropped silently. Every figure is given over the successful images
  (with the failure count), and — as ``*_fallback`` figures — over *all* images, a failure
  being scored with the reconstruction from a whole-image crop (the square of the image side
  about the image centre: what a pipeline that assumes "the face fills the photo" would
  output; AFLW2000-3D images are face-centred 450² crops). CED curves count failures as
  never reaching any threshold.
* **68-point NME** 2D (x, y) and 3D (x, y, z; each set's z centred), normalised by sqrt(w·h)
  of the ground-truth 2D landmark box; by |yaw| bin (``Pose_Para``), balanced and overall.
* **Dense alignment NME (approximate)**: all face vertices of our UV layout against the same
  texels of the rebuilt ground-truth mesh (:func:`prnet.eval.aflw2000.gt_mesh` rendered into
  the layout with :meth:`~prnet.uv.layout.UVLayout.posmap_from_mesh`), 2D and 3D, same
  normaliser.
* **3D reconstruction NME (approximate)**: rigid ICP (scale from the correspondence fit) of
  the predicted face onto the rebuilt mesh, mean nearest-vertex distance over the outer
  inter-ocular distance (3D, ``pt3d_68`` points 36 and 45); 1 in
  :data:`ICP_SAMPLE_STRIDE` vertices is aligned and scored (against all GT vertices).
* **Pose MAE**: pitch, yaw, roll (degrees, wrap-around) from a similarity fit of the predicted
  vertices to the canonical face, against ``Pose_Para``; over all images and, as in the
  head-pose literature, over the images whose three GT angles lie within ±99°
  (``pose_mae_deg_99``). Near |yaw| = 90° pitch and roll are ill-defined (gimbal lock), so
  the geodesic angle between the predicted and GT rotations is given too (``rot_err``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from prnet.bfm import BFM
from prnet.errors import PRNetError
from prnet.eval.aflw2000 import AFLWSample, gt_mesh
from prnet.eval.metrics import (
    LANDMARK_GROUPS,
    YAW_BIN_LABELS,
    dense_nme,
    nme_68,
    nme_68_groups,
    pose_mae,
    rigid_icp_nme,
    summarize,
    yaw_bins,
)
from prnet.eval.report import markdown_table, plot_ced, write_csv
from prnet.geometry.boxes import box_iou
from prnet.geometry.pose import angles_to_matrix
from prnet.io.image import read_image
from prnet.uv.layout import UVLayout, load_layout

log = logging.getLogger(__name__)

__all__ = [
    "CROP_MODES",
    "ICP_SAMPLE_STRIDE",
    "Evaluation",
    "GroundTruth",
    "PRNPredictor",
    "Prediction",
    "Predictor",
    "best_detection",
    "evaluate_aflw2000",
    "ground_truth",
    "score_prediction",
]

CROP_MODES: tuple[str, str] = ("gt", "detector")
#: Reconstruction NME: align and score every 8th face vertex (~7K of ~55K).
ICP_SAMPLE_STRIDE = 8
#: Per-image metric columns (fractions), NaN for failures.
METRICS: tuple[str, ...] = ("nme2d", "nme3d", "dense2d", "dense3d", "recon")
#: Per-image 2D NME of each landmark group (``nme2d_jaw``, …; same normaliser as ``nme2d``).
GROUP_METRICS: tuple[str, ...] = tuple(f"nme2d_{g}" for g in LANDMARK_GROUPS)
ANGLES: tuple[str, str, str] = ("pitch", "yaw", "roll")
#: Pose MAE is also given over images whose GT angles are all within ±this (degrees).
POSE_LIMIT_DEG = 99.0
_ANGLE_COLS: tuple[str, ...] = (*ANGLES, *(f"{a}_err" for a in ANGLES), "rot_err")


@dataclass(frozen=True, eq=False)
class Prediction:
    """One method's output for one image, in image coordinates (y down, z towards the viewer).

    Attributes:
        landmarks: (68, 3) landmarks.
        vertices: (N, 3) dense vertices at the face texels of the UV layout.
        angles_deg: (3,) pitch, yaw, roll in degrees (AFLW convention).
        fallback: the whole-image crop stood in for a detector failure.
    """

    landmarks: np.ndarray
    vertices: np.ndarray
    angles_deg: np.ndarray
    fallback: bool = False


class Predictor(Protocol):
    """Callable ``(rgb_image, sample) → Prediction | None`` (None: failure, e.g. no face)."""

    def __call__(self, image: np.ndarray, sample: AFLWSample) -> Prediction | None: ...


def best_detection(boxes: np.ndarray, gt_box: np.ndarray) -> int | None:
    """Index of the box that overlaps ``gt_box`` most (IoU); None when none overlaps it.

    Args:
        boxes: (K, 4) x0, y0, x1, y1 (K may be 0).
        gt_box: (4,) the ground-truth landmark box.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    g = np.asarray(gt_box, np.float64).reshape(4)
    if not len(b):
        return None
    iou = box_iou(b, g)[:, 0]
    k = int(iou.argmax())
    return k if iou[k] > 0 else None


class PRNPredictor:
    """Our model through :class:`prnet.PRN` with ground-truth-landmark or detector crops.

    Args:
        prn: the :class:`prnet.PRN` instance.
        crop: ``"gt"`` or ``"detector"`` (module docstring).
        fallback: for detector failures, also return the whole-image-crop reconstruction
            (flagged ``fallback=True``) so that the all-images variant can be scored.
    """

    def __init__(self, prn: Any, crop: str = "gt", fallback: bool = True) -> None:
        if crop not in CROP_MODES:
            raise PRNetError(f"crop: expected one of {', '.join(CROP_MODES)}, got {crop!r}")
        self.prn = prn
        self.crop = crop
        self.fallback = fallback
        self.detector_boxes: dict[str, np.ndarray | None] = {}  # image name → box used

    def __call__(self, image: np.ndarray, sample: AFLWSample) -> Prediction | None:
        if self.crop == "gt":
            faces = self.prn.reconstruct(image, landmarks=[sample.pt3d_68[:, :2]])
            return _from_face(faces[0])
        dets = self.prn.detect(image)
        k = best_detection(np.array([d.box for d in dets]), sample.landmark_box)
        self.detector_boxes[sample.image_path.name] = None if k is None else dets[k].box
        if k is not None:
            return _from_face(self.prn.reconstruct(image, boxes=[dets[k].box])[0])
        if not self.fallback:
            return None
        return _from_face(self.prn.reconstruct(image, boxes=[_whole_image_box(image.shape)])[0],
                          fallback=True)


def _from_face(face: Any, fallback: bool = False) -> Prediction:
    return Prediction(np.asarray(face.landmarks, np.float64), np.asarray(face.vertices, np.float64),
                      face.pose.angles_deg, fallback)


def _whole_image_box(shape: tuple[int, ...]) -> np.ndarray:
    """A detector box whose crop (``DETECTOR_CROP``) is the square of the image's longer side
    about its centre."""
    from prnet.pipeline import DETECTOR_CROP

    h, w = shape[:2]
    s = max(h, w) / DETECTOR_CROP["scale"]
    cx, cy = (w - 1) / 2, (h - 1) / 2 - DETECTOR_CROP["shift"] * s
    return np.array([cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2], np.float32)


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Per-image ground truth for scoring.

    Attributes:
        pt3d_68: (68, 3) annotated landmarks.
        vertices: (N, 3) rebuilt (approximate) mesh at the layout's face texels.
        landmarks_rebuilt: (68, 3) the rebuilt mesh's BFM keypoints (convention check).
        angles_deg: (3,) pitch, yaw, roll.
    """

    pt3d_68: np.ndarray
    vertices: np.ndarray
    landmarks_rebuilt: np.ndarray
    angles_deg: np.ndarray


def ground_truth(sample: AFLWSample, bfm: BFM, layout: UVLayout, height: int) -> GroundTruth:
    """Rebuild the sample's mesh (:func:`~prnet.eval.aflw2000.gt_mesh`) into the layout."""
    mesh = gt_mesh(sample, bfm, height)
    verts = layout.vertices(layout.posmap_from_mesh(mesh))
    return GroundTruth(sample.pt3d_68.astype(np.float64), verts, mesh[bfm.keypoints],
                       sample.angles_deg)


def score_prediction(pred: Prediction | None, gt: GroundTruth,
                     icp_stride: int = ICP_SAMPLE_STRIDE) -> dict[str, float]:
    """Per-image metrics (fractions; NaN for a failure) and predicted angles (degrees).

    Returns:
        ``nme2d``, ``nme3d``, ``dense2d``, ``dense3d``, ``recon``, ``pitch``, ``yaw``, ``roll``
        (predicted angles), ``pitch_err``, ``yaw_err``, ``roll_err`` (absolute, wrapped) and
        ``rot_err`` (geodesic angle between the rotations, degrees).
    """
    if pred is None:
        return dict.fromkeys([*METRICS, *GROUP_METRICS, *_ANGLE_COLS], float("nan"))
    p68, g68 = pred.landmarks[None], gt.pt3d_68[None]
    pv, gv = pred.vertices[None], gt.vertices[None]
    sample = np.arange(0, gt.vertices.shape[0], icp_stride)
    out = {
        "nme2d": float(nme_68(p68, g68, 2)[0]),
        "nme3d": float(nme_68(p68, g68, 3)[0]),
        "dense2d": float(dense_nme(pv, gv, g68, 2)[0]),
        "dense3d": float(dense_nme(pv, gv, g68, 3)[0]),
        "recon": rigid_icp_nme(pred.vertices, gt.vertices, gt.pt3d_68[[36, 45]], sample=sample),
    }
    out.update({f"nme2d_{g}": float(v[0]) for g, v in nme_68_groups(p68, g68, 2).items()})
    err = pose_mae(pred.angles_deg[None], gt.angles_deg[None])
    out.update({a: float(v) for a, v in zip(ANGLES, pred.angles_deg, strict=True)})
    out.update({f"{a}_err": float(v) for a, v in zip(ANGLES, err, strict=True)})
    out["rot_err"] = rotation_error_deg(pred.angles_deg, gt.angles_deg)
    return out


def rotation_error_deg(angles_a_deg: np.ndarray, angles_b_deg: np.ndarray) -> float:
    """Geodesic angle (degrees) between the rotations of two (pitch, yaw, roll) triples."""
    ra = angles_to_matrix(*np.deg2rad(np.asarray(angles_a_deg, np.float64)))
    rb = angles_to_matrix(*np.deg2rad(np.asarray(angles_b_deg, np.float64)))
    c = (np.trace(ra.T @ rb) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


@dataclass(eq=False)
class Evaluation:
    """Per-image results of one or more methods on the same images.

    Attributes:
        names: image file names. abs_yaw: (B,) |yaw| in degrees. bins: (B,) yaw bins.
        gt_rebuild: {"nme2d", "nme3d"} (B,) residual of the rebuilt landmarks vs ``pt3d_68``.
        gt_angles: (B, 3) GT pitch, yaw, roll in degrees.
        scores: {method: {column: (B,) array}} from :func:`score_prediction`, plus ``ok``
            (bool: no failure) and ``fallback`` (bool: scored from the whole-image crop).
        meta: free-form run information (crop mode, weights, …).
    """

    names: list[str]
    abs_yaw: np.ndarray
    bins: np.ndarray
    gt_rebuild: dict[str, np.ndarray]
    gt_angles: np.ndarray
    scores: dict[str, dict[str, np.ndarray]]
    meta: dict[str, Any] = field(default_factory=dict)

    def _masked(self, method: str, key: str, fallback: bool) -> np.ndarray:
        s = self.scores[method]
        v = s[key].copy()
        if not fallback:
            v[~s["ok"]] = np.nan
        return v

    def method_summary(self, method: str) -> dict[str, Any]:
        """JSON-ready figures of one method (NMEs in percent, angles in degrees)."""
        s = self.scores[method]
        ok = s["ok"]
        fail_bins = np.bincount(self.bins[~ok], minlength=len(YAW_BIN_LABELS))
        out: dict[str, Any] = {
            "n_images": len(self.names),
            "failures": int((~ok).sum()),
            "failures_bins": [int(c) for c in fail_bins],
            "failed_images": [n for n, good in zip(self.names, ok, strict=True) if not good],
        }
        names = {"nme2d": "nme2d", "nme3d": "nme3d", "dense2d": "dense_nme2d",
                 "dense3d": "dense_nme3d", "recon": "recon_nme"}
        variants = [(False, "")] + ([(True, "_fallback")] if s["fallback"].any() else [])
        for fallback, suffix in variants:
            for key, label in names.items():
                sm = summarize(self._masked(method, key, fallback), self.bins)
                out[f"{label}_bins{suffix}"] = [_pct(sm[b]) for b in YAW_BIN_LABELS]
                out[f"{label}_balanced{suffix}"] = _pct(sm["balanced"])
                out[f"{label}_mean{suffix}"] = _pct(sm["mean"])
            keep = ok | s["fallback"] if fallback else ok
            for name, sel in ((f"pose_mae_deg{suffix}", keep),
                              (f"pose_mae_deg_99{suffix}", keep & self.pose_in_range)):
                out[name] = self._pose_mae(s, sel)
        out["nme2d_groups"] = {}
        for key in GROUP_METRICS:
            sm = summarize(self._masked(method, key, False), self.bins)
            out["nme2d_groups"][key.removeprefix("nme2d_")] = {
                "bins": [_pct(sm[b]) for b in YAW_BIN_LABELS],
                "balanced": _pct(sm["balanced"]), "mean": _pct(sm["mean"])}
        out["balanced_complete"] = bool(np.all(np.bincount(self.bins[ok], minlength=3) > 0))
        return out

    @property
    def pose_in_range(self) -> np.ndarray:
        """(B,) bool: all three GT angles within ±:data:`POSE_LIMIT_DEG`."""
        return np.all(np.abs(self.gt_angles) <= POSE_LIMIT_DEG, axis=1)

    @staticmethod
    def _pose_mae(s: Mapping[str, np.ndarray], sel: np.ndarray) -> dict[str, Any]:
        errs = np.stack([s[f"{a}_err"] for a in ANGLES], 1)[sel]
        mae = errs.mean(0) if len(errs) else np.full(3, np.nan)
        out: dict[str, Any] = {a: _round(v) for a, v in zip(ANGLES, mae, strict=True)}
        out["mean"] = _round(float(np.mean(mae)))
        out["rotation_geodesic"] = _round(float(np.mean(s["rot_err"][sel])) if sel.any() else np.nan)
        out["n"] = int(sel.sum())
        return out

    def summary(self) -> dict[str, Any]:
        """The first method's figures at the top level, the others under ``"baselines"``,
        plus ``"gt_rebuild"`` (the convention check) and ``"meta"``."""
        methods = list(self.scores)
        out = self.method_summary(methods[0]) if methods else {}
        out["method"] = methods[0] if methods else None
        out["baselines"] = {m: self.method_summary(m) for m in methods[1:]}
        out["gt_rebuild"] = {
            "nme2d_mean": _pct(float(np.mean(self.gt_rebuild["nme2d"]))),
            "nme3d_mean": _pct(float(np.mean(self.gt_rebuild["nme3d"]))),
            "note": "68 landmarks rebuilt from Shape_Para[:40], Exp_Para[:10], Pose_Para vs "
                    "pt3d_68: the accuracy of the approximate dense ground truth",
        }
        out["units"] = "NME in percent; angles in degrees"
        out["failure_policy"] = (
            "figures are over the successful images (failures counted in 'failures'); the "
            "*_fallback figures cover all images, each failure scored with the whole-image crop")
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One CSV row per image and method (NMEs as fractions)."""
        rows = []
        for method, s in self.scores.items():
            for i, name in enumerate(self.names):
                row: dict[str, Any] = {"image": name, "method": method,
                                       "abs_yaw": round(float(self.abs_yaw[i]), 3),
                                       "yaw_bin": YAW_BIN_LABELS[self.bins[i]],
                                       "ok": bool(s["ok"][i]), "fallback": bool(s["fallback"][i])}
                for key in (*METRICS, *GROUP_METRICS, *_ANGLE_COLS):
                    row[key] = float(s[key][i])
                row["gt_rebuild_nme2d"] = float(self.gt_rebuild["nme2d"][i])
                rows.append(row)
        return rows

    def markdown(self) -> str:
        """Markdown tables: 68-point NME, dense/reconstruction NME (approximate), pose MAE."""
        crop = self.meta.get("crop", "?")
        parts = [f"AFLW2000-3D, {len(self.names)} images, {crop} crops. NME in %.", ""]
        sums = {m: {k: summarize(self._masked(m, k, False), self.bins) for k in METRICS}
                for m in self.scores}
        label = {m: self._label(m) for m in self.scores}
        parts.append("**68-point NME** (normalised by sqrt(w·h) of the GT landmark box)\n")
        parts.append(markdown_table({label[m]: {"2D": s["nme2d"], "3D": s["nme3d"]}
                                     for m, s in sums.items()}))
        parts.append("\n**68-point 2D NME by landmark group** (same normaliser; where the error "
                     "comes from)\n")
        parts.append(markdown_table({
            f"{label[m]}: {g} ({LANDMARK_GROUPS[g].stop - LANDMARK_GROUPS[g].start})":
                {"2D": summarize(self._masked(m, f"nme2d_{g}", False), self.bins)}
            for m in self.scores for g in LANDMARK_GROUPS}))
        parts.append("\n**Dense alignment NME, approximate** (all face vertices vs the mesh "
                     "rebuilt from 40 shape / 10 expression components)\n")
        parts.append(markdown_table({label[m]: {"dense 2D": s["dense2d"], "dense 3D": s["dense3d"]}
                                     for m, s in sums.items()}))
        parts.append("\n**3D reconstruction NME, approximate** (rigid ICP, normalised by the "
                     "outer inter-ocular distance)\n")
        parts.append(markdown_table({label[m]: {"recon": s["recon"]} for m, s in sums.items()}))
        n99 = int(self.pose_in_range.sum())
        parts.append(f"\n**Pose MAE** (degrees; all images / the {n99} with GT angles within "
                     f"±{POSE_LIMIT_DEG:.0f}°; rot = geodesic rotation error) and failures\n")
        parts.append("| Method | pitch | yaw | roll | mean | rot | mean (±99°) | rot (±99°) "
                     "| failures |")
        parts.append("|:---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for m in self.scores:
            ms = self.method_summary(m)
            p, q = ms["pose_mae_deg"], ms["pose_mae_deg_99"]
            cells = [p["pitch"], p["yaw"], p["roll"], p["mean"], p["rotation_geodesic"],
                     q["mean"], q["rotation_geodesic"]]
            text = " | ".join("n/a" if c is None else f"{c:.2f}" for c in cells)
            parts.append(f"| {label[m]} | {text} | {ms['failures']} of {ms['n_images']} |")
        for m in self.scores:
            ms = self.method_summary(m)
            if "nme2d_balanced_fallback" in ms:
                parts.append(
                    f"\n{label[m]}, all {ms['n_images']} images with the {ms['failures']} "
                    "detector failure(s) scored from a whole-image crop: 2D NME balanced "
                    f"{ms['nme2d_balanced_fallback']:.2f} / mean {ms['nme2d_mean_fallback']:.2f}, "
                    f"3D NME balanced {ms['nme3d_balanced_fallback']:.2f} / mean "
                    f"{ms['nme3d_mean_fallback']:.2f}.")
        gt2 = 100 * float(np.mean(self.gt_rebuild["nme2d"]))
        parts.append(f"\nGround-truth mesh check: the rebuilt 68 landmarks differ from pt3d_68 "
                     f"by {gt2:.2f} % 2D NME (mean); dense figures are approximate.")
        return "\n".join(parts) + "\n"

    def _label(self, method: str) -> str:
        return str(self.meta.get("labels", {}).get(method, method))

    def write_csv(self, path: str | Path) -> Path:
        return write_csv(path, self.rows())

    def plot_ced(self, path: str | Path, dims: int = 2) -> Path:
        """CED of the 68-point NME (failures never reach a threshold)."""
        key = f"nme{dims}d"
        curves = {self._label(m): self._masked(m, key, False) for m in self.scores}
        title = f"AFLW2000-3D ({len(self.names)} images, {self.meta.get('crop', '?')} crops): " \
                f"68-pt {dims}D NME"
        return plot_ced(path, curves, max_x=0.1, title=title)


def _round(v: float, digits: int = 4) -> float | None:
    return None if not np.isfinite(v) else round(float(v), digits)


def _pct(v: float) -> float | None:
    return None if not np.isfinite(v) else round(100.0 * float(v), 4)


def evaluate_aflw2000(
    samples: Sequence[AFLWSample],
    predictors: Mapping[str, Predictor],
    bfm: BFM,
    layout: UVLayout | None = None,
    progress: bool = True,
    meta: Mapping[str, Any] | None = None,
    on_image: Callable[[int], None] | None = None,
) -> Evaluation:
    """Run every predictor on every sample and score it (module docstring for the protocol).

    Args:
        samples: from :func:`~prnet.eval.aflw2000.load_aflw2000`.
        predictors: ``{method name: predictor}``; the first is the main method.
        bfm: the full BFM (for the ground-truth meshes).
        layout: the UV layout (default: the bundled one).
        progress: show a tqdm progress bar (stderr).
        meta: extra run information stored in :attr:`Evaluation.meta`.
        on_image: called with the index of each finished image (tests, custom progress).

    Returns:
        The :class:`Evaluation`.

    Raises:
        PRNetError: no samples or no predictors; ImageReadError: unreadable image.
    """
    if not samples:
        raise PRNetError("no AFLW2000-3D samples to evaluate")
    if not predictors:
        raise PRNetError("no methods to evaluate")
    from tqdm import tqdm

    layout = layout or load_layout()
    n = len(samples)
    cols = [*METRICS, *GROUP_METRICS, *_ANGLE_COLS]
    scores = {m: {c: np.full(n, np.nan) for c in cols} | {"ok": np.zeros(n, bool),
                                                          "fallback": np.zeros(n, bool)}
              for m in predictors}
    rebuild = {"nme2d": np.zeros(n), "nme3d": np.zeros(n)}
    for i, sample in enumerate(tqdm(samples, desc="aflw2000", unit="img", disable=not progress,
                                    mininterval=2.0)):
        image = read_image(sample.image_path)
        gt = ground_truth(sample, bfm, layout, image.shape[0])
        for dims in (2, 3):
            rebuild[f"nme{dims}d"][i] = nme_68(gt.landmarks_rebuilt[None], gt.pt3d_68[None], dims)[0]
        for method, predict in predictors.items():
            pred = predict(image, sample)
            s = scores[method]
            s["ok"][i] = pred is not None and not pred.fallback
            s["fallback"][i] = pred is not None and pred.fallback
            for key, value in score_prediction(pred, gt).items():
                s[key][i] = value
        if on_image is not None:
            on_image(i)
    abs_yaw = np.array([s.abs_yaw_deg for s in samples])
    gt_angles = np.array([s.angles_deg for s in samples]).reshape(n, 3)
    return Evaluation([s.image_path.name for s in samples], abs_yaw, yaw_bins(abs_yaw), rebuild,
                      gt_angles, scores, dict(meta or {}))
