"""Face-detector false positives on non-face images vs recall on faces (incl. small faces).

Face sets (every image holds a face): the AFLW2000-3D dev split (400), a subset of
faces-extra (every k-th of 1,930 photos), and dev images downscaled so that the ground-truth
68-landmark box's longer side is 16/20/24/32/48 px ("small", the whole image scaled down) or
the same face pasted on a 192-px grey canvas ("small_ctx").

Non-face sets, generated deterministically (no downloads): uniform and Gaussian noise at
8-640 px (square and thin strips), low-frequency noise (tiny noise upscaled, blurred noise),
flat colours, gradients, checkerboards, random shapes, text, and background crops of dev
images (strips beside the face that exclude the landmark box grown 1.8×), and 100 uniform-noise
images at the networks' own input sizes (96-256 px).

Reports per detector: recall per face set, false-positive images / detections per non-face
kind, the score and box-size distributions of false positives vs true faces, and a sweep of
the minimum face size N (shorter box side, px of the original image) and minimum image side M.

Usage: ``python research/detector_false_positives.py [--detectors ...] [--no-limits]``
(``--no-limits`` turns off the detector's size limits, box and noise checks: the "before"
figures).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import scipy.io as sio
import torch

from prnet.detect import available_detectors, get_detector
from prnet.geometry.boxes import box_iou

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SIZES = (8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 192, 256, 384, 640)
FACE_PX = (16, 20, 24, 32, 48)

Sample = tuple[str, np.ndarray, np.ndarray | None]  # (kind, RGB image, gt box or None)


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def landmark_box(mat: Path) -> np.ndarray:
    """(4,) x0 y0 x1 y1 of the 68 ground-truth landmarks."""
    pts = sio.loadmat(str(mat))["pt3d_68"][:2]
    return np.concatenate([pts.min(1), pts.max(1)]).astype(np.float32)


# ------------------------------------------------------------------------------ face sets


def face_sets(data: Path, extra_step: int, small_every: int) -> Iterator[Sample]:
    """Dev images, a faces-extra subset, and small dev faces (alone / on a 192-px canvas)."""
    files = sorted((data / "aflw2000-3d-dev").glob("*.jpg"))
    for k, f in enumerate(files):
        im, gt = read_rgb(f), landmark_box(f.with_suffix(".mat"))
        yield "dev", im, gt
        if k % small_every:
            continue
        side = float((gt[2:] - gt[:2]).max())
        for px in FACE_PX:
            s = px / side
            small = cv2.resize(im, (max(1, round(im.shape[1] * s)), max(1, round(im.shape[0] * s))),
                               interpolation=cv2.INTER_AREA)
            yield f"small{px}", small, gt * s
            canvas = np.full((192, 192, 3), 118, np.uint8)
            h, w = min(small.shape[0], 192), min(small.shape[1], 192)
            cy, cx = (192 - h) // 2, (192 - w) // 2
            canvas[cy : cy + h, cx : cx + w] = small[:h, :w]
            yield f"ctx{px}", canvas, gt * s + np.array([cx, cy, cx, cy], np.float32)
    for f in sorted((data / "faces-extra" / "images").glob("*.jpg"))[::extra_step]:
        yield "extra", read_rgb(f), None


# -------------------------------------------------------------------------- non-face sets


def noise_images(rng: np.random.Generator) -> Iterator[Sample]:
    """Uniform / Gaussian noise, squares at :data:`SIZES` (3 seeds) and thin strips."""
    for size in SIZES:
        for _ in range(3):
            yield "uniform", rng.integers(0, 256, (size, size, 3), dtype=np.uint8), None
            g = np.clip(rng.normal(128, 50, (size, size, 3)), 0, 255).astype(np.uint8)
            yield "gaussian", g, None
    for h, w in ((8, 640), (640, 8), (16, 256), (256, 16), (24, 400), (32, 640)):
        yield "strip", rng.integers(0, 256, (h, w, 3), dtype=np.uint8), None


def smooth_noise(rng: np.random.Generator) -> Iterator[Sample]:
    """Low-frequency noise: tiny noise upscaled bilinearly, and Gaussian-blurred noise."""
    for src in (4, 6, 8, 10, 12, 16, 24):
        for out in (64, 256, 640):
            tiny = rng.integers(0, 256, (src, src, 3), dtype=np.uint8)
            yield "upscaled", cv2.resize(tiny, (out, out), interpolation=cv2.INTER_LINEAR), None
    for sigma in (1, 2, 4, 8, 16):
        for size in (64, 256, 640):
            n = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            b = cv2.GaussianBlur(n, (0, 0), sigma).astype(np.float32)
            b = (b - b.mean()) / (b.std() + 1e-6) * 50 + 128  # restore contrast
            yield "blurred", np.clip(b, 0, 255).astype(np.uint8), None


def synthetic(rng: np.random.Generator) -> Iterator[Sample]:
    """Flat colours, gradients, checkerboards, random shapes and text."""
    colours = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 150, 120), (30, 60, 200)]
    for size in (1, 2, 8, 10, 16, 32, 128, 640):
        for c in colours:
            yield "flat", np.full((size, size, 3), c, np.uint8), None
    for size in (10, 32, 128, 640):
        t = np.linspace(0, 255, size, dtype=np.float32)
        yy, xx = np.meshgrid(t, t, indexing="ij")
        r = np.hypot(yy - 127.5, xx - 127.5)
        for g in (xx, yy, (xx + yy) / 2, 255 - r * 255 / max(r.max(), 1)):
            yield "gradient", np.repeat(g[..., None], 3, 2).clip(0, 255).astype(np.uint8), None
    for size in (16, 128, 640):
        for cell in (1, 2, 4, 8, 16, 32, 64):
            yy, xx = np.indices((size, size)) // cell
            board = ((yy + xx) % 2 * 255).astype(np.uint8)
            yield "checker", np.repeat(board[..., None], 3, 2), None
    for k in range(30):
        size = int(rng.choice([64, 128, 256, 480, 640]))
        im = np.full((size, size, 3), rng.integers(0, 256, 3), np.uint8)
        for _ in range(int(rng.integers(3, 15))):
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            p, q = rng.integers(0, size, 2), rng.integers(0, size, 2)
            shape = k % 3 if k < 27 else int(rng.integers(0, 3))
            if shape == 0:
                cv2.circle(im, tuple(int(v) for v in p), int(rng.integers(2, size // 3)), col, -1)
            elif shape == 1:
                cv2.rectangle(im, tuple(int(v) for v in p), tuple(int(v) for v in q), col, -1)
            else:
                cv2.ellipse(im, tuple(int(v) for v in p), (int(rng.integers(2, size // 3)),
                            int(rng.integers(2, size // 3))), float(rng.uniform(0, 180)), 0, 360,
                            col, -1)
        yield "shapes", im, None
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "))
    for _ in range(15):
        size = int(rng.choice([96, 256, 640]))
        im = np.full((size, size, 3), 255 if rng.random() < 0.5 else 20, np.uint8)
        for line in range(int(rng.integers(1, 8))):
            text = "".join(rng.choice(letters, int(rng.integers(3, 20))))
            y = int((line + 1) * size / 9)
            cv2.putText(im, text, (int(rng.integers(0, size // 4)), y), int(rng.integers(0, 8)),
                        float(rng.uniform(0.4, size / 200)), tuple(int(v) for v in rng.integers(0, 256, 3)),
                        int(rng.integers(1, 4)))
        yield "text", im, None


def background_crops(data: Path, grow: float = 1.8, min_side: int = 48) -> Iterator[Sample]:
    """Strips of dev images beside the face: left / right / top / bottom of the landmark box
    grown ``grow``× about its centre (only strips at least ``min_side`` px on both sides)."""
    for f in sorted((data / "aflw2000-3d-dev").glob("*.jpg")):
        im, gt = read_rgb(f), landmark_box(f.with_suffix(".mat"))
        c, half = (gt[:2] + gt[2:]) / 2, (gt[2:] - gt[:2]).max() * grow / 2
        x0, y0 = (int(np.floor(v)) for v in c - half)
        x1, y1 = (int(np.ceil(v)) for v in c + half)
        for crop in (im[:, : max(x0, 0)], im[:, max(x1, 0) :], im[: max(y0, 0)], im[max(y1, 0) :]):
            if min(crop.shape[:2]) >= min_side:
                yield "background", np.ascontiguousarray(crop), None


def non_faces(data: Path, seed: int = 0) -> Iterator[Sample]:
    """All non-face images, in a fixed order from one seed."""
    rng = np.random.default_rng(seed)
    yield from noise_images(rng)
    yield from smooth_noise(rng)
    yield from synthetic(rng)
    yield from background_crops(data)
    rng = np.random.default_rng(seed + 1)
    for size in (96, 128, 160, 192, 256):  # noise at the networks' own input resolution
        for _ in range(20):
            yield "noise_native", rng.integers(0, 256, (size, size, 3), dtype=np.uint8), None


# ----------------------------------------------------------------------------- measuring


def records(det, samples: list[Sample], batch: int = 16) -> list[dict]:
    """One record per image: kind, image size, detections' scores / box sides / IoU with gt."""
    out = []
    for start in range(0, len(samples), batch):
        chunk = samples[start : start + batch]
        found = det.detect_batch([s[1] for s in chunk])
        for (kind, im, gt), ds in zip(chunk, found):
            boxes = np.stack([d.box for d in ds]) if ds else np.zeros((0, 4), np.float32)
            sides = (boxes[:, 2:] - boxes[:, :2]).min(1) if ds else np.zeros(0)
            iou = box_iou(boxes, gt[None])[:, 0] if gt is not None and ds else np.zeros(len(ds))
            h, w = im.shape[:2]
            inside = np.clip(np.minimum(boxes[:, 2:], [w - 0.5, h - 0.5])
                             - np.maximum(boxes[:, :2], -0.5), 0, None).prod(1)
            area = np.clip(boxes[:, 2:] - boxes[:, :2], 1e-6, None)
            out.append({
                "kind": kind, "short": min(h, w), "score": np.array([d.score for d in ds]),
                "side": sides, "iou": iou, "gt": gt is not None,
                "outside": 1 - inside / area.prod(1), "aspect": area[:, 0] / area[:, 1],
            })
    return out


def keep_mask(r: dict, n: float, m: float, thr: float = 0.0) -> np.ndarray:
    """Detections of record ``r`` kept by a minimum face side ``n``, image side ``m``, score."""
    return (r["side"] >= n) & (r["short"] >= m) & (r["score"] >= thr)


def summary(recs: list[dict], n: float = 0, m: float = 0, thr: float = 0.0) -> dict[str, str]:
    """Per kind: faces: 'found/total' (dev-like: found with IoU >= 0.3 in brackets);
    non-faces: 'images with a detection/total (detections)'."""
    by = defaultdict(list)
    for r in recs:
        by[r["kind"]].append(r)
    out = {}
    for kind, rs in by.items():
        keeps = [keep_mask(r, n, m, thr) for r in rs]
        hit = sum(bool(k.any()) for k in keeps)
        if rs[0]["gt"] or kind == "extra":
            txt = f"{hit}/{len(rs)}"
            if rs[0]["gt"]:
                txt += f" ({sum(bool((r['iou'][k] >= 0.3).any()) for r, k in zip(rs, keeps))})"
        else:
            txt = f"{hit}/{len(rs)} ({sum(int(k.sum()) for k in keeps)})"
        out[kind] = txt
    return out


def distribution(values: np.ndarray) -> str:
    """min / 5 / 25 / 50 / 75 / max percentiles of ``values``."""
    if not len(values):
        return "(none)"
    q = np.percentile(values, [0, 5, 25, 50, 75, 100])
    return " ".join(f"{v:6.3f}" if values.max() <= 1 else f"{v:6.1f}" for v in q)


def report(name: str, faces: list[dict], others: list[dict]) -> None:
    """Print recall, false positives, distributions and the N / M sweep of one detector."""
    print(f"\n=== {name}")
    print("faces   :", "  ".join(f"{k} {v}" for k, v in summary(faces).items()))
    print("non-face:", "  ".join(f"{k} {v}" for k, v in summary(others).items()))
    fp_s = np.concatenate([r["score"] for r in others] or [np.zeros(0)])
    fp_side = np.concatenate([r["side"] for r in others] or [np.zeros(0)])
    fp_img = np.concatenate([np.full(len(r["score"]), r["short"]) for r in others] or [np.zeros(0)])
    true = [r for r in faces if r["kind"] in ("dev", "extra") and len(r["score"])]
    tf_s = np.array([r["score"][r["iou"].argmax()] if r["gt"] else r["score"].max() for r in true])
    tf_side = np.array([r["side"][r["iou"].argmax()] if r["gt"] else r["side"][r["score"].argmax()]
                        for r in true])
    print(f"scores  (min p5 p25 p50 p75 max): FP {distribution(fp_s)} | faces {distribution(tf_s)}")
    print(f"box side px                      : FP {distribution(fp_side)} | faces {distribution(tf_side)}")
    print(f"FP image short side px           : {distribution(fp_img)}")
    for key in ("outside", "aspect"):
        fp_v = np.concatenate([r[key] for r in others] or [np.zeros(0)])
        tf_v = np.concatenate([r[key] for r in faces if r["kind"] in ("dev", "extra")] or [np.zeros(0)])
        print(f"box {key:<29}: FP {distribution(fp_v)} | faces {distribution(tf_v)}")
    for thr in (0.6, 0.65, 0.7, 0.75, 0.8):
        f, o = summary(faces, 0, 0, thr), summary(others, 0, 0, thr)
        print(f"  score >= {thr}: faces {f} | FP images {sum(int(v.split('/')[0]) for v in o.values())}")
    big = [(r["kind"], r["short"], f"{sc:.3f}", f"{sd:.0f}", f"{ou:.2f}")
           for r in others for sc, sd, ou in zip(r["score"], r["side"], r["outside"]) if sd >= 16]
    print(f"FPs with box side >= 16 px (kind, image side, score, box side, outside): {big}")
    print("sweep N (min face side px) x M (min image side px): dev / extra / small24 / ctx24 / "
          "small32 / FP images")
    for n in (0, 12, 16, 20, 24, 28, 32):
        for m in (0, 16, 24, 32, 48, 64):
            f, o = summary(faces, n, m), summary(others, n, m)
            fp = sum(int(v.split("/")[0]) for v in o.values())
            print(f"  N={n:2d} M={m:2d}: {f.get('dev')} {f.get('extra')} {f.get('small24')} "
                  f"{f.get('ctx24')} {f.get('small32')} FP {fp}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", nargs="+", default=list(available_detectors()))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--extra-step", type=int, default=6, help="every k-th faces-extra photo")
    ap.add_argument("--small-every", type=int, default=4, help="every k-th dev image → small faces")
    ap.add_argument("--no-limits", action="store_true", help="detector without its size limits")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    faces = list(face_sets(args.data, args.extra_step, args.small_every))
    others = list(non_faces(args.data))
    count = defaultdict(int)
    for s in faces + others:
        count[s[0]] += 1
    print("images:", ", ".join(f"{k} {v}" for k, v in count.items()))
    for name in args.detectors:
        det = get_detector(name)
        if args.no_limits:
            det.min_face_size, det.min_image_side, det.max_outside = -np.inf, 0, np.inf
            det.min_correlation = -np.inf
        t = time.perf_counter()
        f_recs, o_recs = records(det, faces), records(det, others)
        report(name, f_recs, o_recs)
        print(f"({time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
