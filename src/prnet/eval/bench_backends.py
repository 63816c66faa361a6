"""The real-time figures of ``prnet bench``, per stage-4 backend (figures are never asserted).

* :func:`bench_landmarks_pose` — what landmarks and pose cost per face: detect, crop, network,
  uncrop, 68 landmarks and the pose fit; no dense output (colours, z-buffer) is computed.
* :func:`bench_video` — frames per second of the ``prnet video`` tracking path (decode, track,
  network, landmarks/pose, CSV/NPZ; optionally the annotated video with the mesh) on a
  synthetic 640×480 clip of the bundled photo.
* :func:`bench_backends` — both, plus the end-to-end pipeline and the network's batch-1 time,
  for several :class:`prnet.PRN` (one per backend) timed in turns, so that a shared machine's
  load falls on all alike; :func:`available_backends` lists the backends to time.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from prnet.errors import PRNetError

__all__ = [
    "VIDEO_SIZE",
    "available_backends",
    "bench_backends",
    "bench_landmarks_pose",
    "bench_video",
    "synthetic_clip",
]

#: (width, height) of :func:`bench_video`'s clip.
VIDEO_SIZE = (640, 480)


def available_backends(device: str, precision: str = "fp32") -> list[str]:
    """The backends that run ``precision`` on ``device``: "torch" (not for int8), and
    "onnxruntime" when it is installed and the run is fp32 or int8 on the CPU."""
    from prnet.pipeline.onnx_backend import resolve_backend

    ort = resolve_backend("auto", device, precision) == "onnxruntime"
    return (["torch"] if precision != "int8" else []) + (["onnxruntime"] if ort else [])


def bench_landmarks_pose(prn: Any, image: np.ndarray, repeats: int = 5,
                         dense: bool = False) -> dict[str, Any]:
    """Per-face time of detect → crop → network → uncrop → landmarks → pose (median over
    ``repeats`` after one warm-up), and the detector's time per image; with ``dense``, the
    dense vertices and their colours too (no z-buffer, no file).

    Returns:
        ``{"landmarks_pose_ms_per_face", "landmarks_pose_ms_per_face_min", "detect_ms",
        "faces"}`` (``dense``: ``"dense_ms_per_face"`` and ``"dense_ms_per_face_min"`` in place
        of the first two).

    Raises:
        PRNetError: no face in ``image``, or ``repeats < 1``.
    """
    if repeats < 1:
        raise PRNetError(f"repeats: expected ≥ 1, got {repeats}")
    totals, detects, n = [], [], 0
    for rep in range(repeats + 1):
        t0 = time.perf_counter()
        dets = prn.detect(image)
        t1 = time.perf_counter()
        if not dets:
            raise PRNetError("bench: no face found in the benchmark image")
        plans = prn.plan(dets)
        faces = prn.faces(image, plans, prn.posmaps(image, plans))
        for f in faces:
            _ = (f.landmarks, f.pose, f.vertices, f.colors) if dense else (f.landmarks, f.pose)
        t2 = time.perf_counter()
        if rep:
            n = len(faces)
            totals.append((t2 - t0) * 1e3 / n)
            detects.append((t1 - t0) * 1e3)
    key = "dense_ms_per_face" if dense else "landmarks_pose_ms_per_face"
    return {key: round(float(np.median(totals)), 3), f"{key}_min": round(float(np.min(totals)), 3),
            "detect_ms": round(float(np.median(detects)), 3), "faces": n}


def synthetic_clip(path: str | Path, image: np.ndarray, frames: int,
                   size: tuple[int, int] = VIDEO_SIZE, fps: float = 30.0) -> Path:
    """Write a ``frames``-frame clip of ``image`` (RGB) drifting and turning slowly in a
    ``size`` frame (H.264 through PyAV when it has libx264, else OpenCV mp4v)."""
    from prnet.apps.video_writer import open_video_writer

    w, h = size
    ih, iw = image.shape[:2]
    scale = min(w / iw, h / ih) * 0.9
    writer = open_video_writer(path, fps, size)
    try:
        for i in range(frames):
            phase = 2 * np.pi * i / max(frames, 60)
            m = cv2.getRotationMatrix2D((iw / 2, ih / 2), 6 * np.sin(phase), scale)
            m[:, 2] += [w / 2 - iw / 2 + 20 * np.sin(phase), h / 2 - ih / 2 + 10 * np.cos(phase)]
            writer.write(cv2.warpAffine(image, m, size, borderMode=cv2.BORDER_REFLECT))
    finally:
        writer.close()
    return Path(path)


def bench_video(prns: dict[str, Any], image: np.ndarray, frames: int = 300,
                size: tuple[int, int] = VIDEO_SIZE, chunks: int = 3,
                annotated: bool = False) -> dict[str, dict[str, Any]]:
    """Frames per second of :class:`~prnet.apps.video.VideoProcessor` (decode, track, network,
    landmarks and pose, smoothing, CSV and NPZ; with ``annotated`` also the mesh, landmarks and
    pose box drawn into the output video, as ``prnet video`` writes it by default) for each
    backend's PRN (``prns``: backend → PRN), on a synthetic clip of ``image``
    (:func:`synthetic_clip`, not timed). The clip is cut in ``chunks`` parts, each a whole run (first-frame detection
    included), and the backends take turns part by part, so that load from other programs
    falls on all of them alike; the wall time of every run counts.

    Returns:
        backend → ``{"frames", "width", "height", "fps", "ms_per_frame", "detector_calls",
        "faces"}``.

    Raises:
        PRNetError: ``frames < 1``.
    """
    from prnet.apps.video import VideoProcessor

    if frames < 1:
        raise PRNetError(f"video frames: expected ≥ 1, got {frames}")
    parts = max(1, min(int(chunks), frames))
    sizes = [frames // parts + (k < frames % parts) for k in range(parts)]
    acc = {b: {"frames": 0, "seconds": 0.0, "detector_calls": 0, "faces": 0} for b in prns}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {n: synthetic_clip(Path(tmp) / f"bench{n}.mp4", image, n, size)
                 for n in sorted(set(sizes))}
        for k, n in enumerate(sizes):
            order = list(prns)[k % len(prns):] + list(prns)[: k % len(prns)]
            for b in order:
                proc = VideoProcessor(prns[b], progress=False, video=annotated, mesh=annotated)
                t0 = time.perf_counter()
                s = proc.run(clips[n], Path(tmp) / f"out_{b}")
                a = acc[b]
                a["seconds"] += time.perf_counter() - t0
                a["frames"] += s.frames_processed
                a["detector_calls"] += s.detector_calls
                a["faces"] += s.faces
    return {b: {"frames": a["frames"], "width": size[0], "height": size[1],
                "fps": round(a["frames"] / a["seconds"], 2),
                "ms_per_frame": round(a["seconds"] * 1e3 / max(a["frames"], 1), 3),
                "detector_calls": a["detector_calls"], "faces": a["faces"]}
            for b, a in acc.items()}


def bench_backends(prns: dict[str, Any], image_bytes: bytes, repeats: int = 5,
                   seconds: float = 1.0, video_frames: int = 300, name: str = "mobilenet_unet",
                   log: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """The real-time figures of each backend's :class:`prnet.PRN` (``prns``: backend → PRN),
    timed in turns: each of ``repeats`` rounds runs every backend once (the order rotating),
    so that load from other programs falls on all of them alike.

    Per backend: ``e2e_ms_per_face`` (the whole pipeline with exports,
    :func:`~prnet.eval.bench.bench_pipeline`) and ``stages_ms_per_face``,
    ``landmarks_pose_ms_per_face`` and ``detect_ms`` (:func:`bench_landmarks_pose`),
    ``dense_ms_per_face`` (the same plus dense vertices and colours, no file),
    ``network_ms_b1`` (its stage-4 callable at batch 1) — medians over the rounds, ``…_min``
    the fastest round — and ``video_fps_640x480`` and, with the mesh drawn into the output
    video, ``video_mesh_fps_640x480`` (:func:`bench_video`; both skipped when ``video_frames``
    is 0).
    """
    from prnet.eval.bench import bench_pipeline, bench_stage4
    from prnet.io import read_image

    say = log or (lambda _msg: None)
    image = read_image(image_bytes)
    names = list(prns)
    runs: dict[str, list[dict[str, Any]]] = {b: [] for b in names}
    say(f"backends {', '.join(names)} in turns: pipeline, landmarks + pose, network batch 1 "
        f"({repeats} rounds)")
    for r in range(max(1, repeats)):
        for b in names[r % len(names):] + names[: r % len(names)]:
            p = prns[b]
            pipe = bench_pipeline(p, image_bytes, repeats=1)
            lp = bench_landmarks_pose(p, image, 1)
            dense = bench_landmarks_pose(p, image, 1, dense=True)
            net = bench_stage4(p.network, name, (1,), seconds / max(1, repeats))[0]
            runs[b].append({"e2e": pipe["e2e_ms_per_face"], "stages": pipe["stages_ms_per_face"],
                            "lp": lp["landmarks_pose_ms_per_face"], "detect": lp["detect_ms"],
                            "dense": dense["dense_ms_per_face"],
                            "net": net["ms_per_batch"], "net_min": net["ms_per_batch_min"]})
    out: dict[str, dict[str, Any]] = {}
    for b, rs in runs.items():
        def med(key: str, rs=rs) -> float:
            return round(float(np.median([x[key] for x in rs])), 3)

        def low(key: str, rs=rs) -> float:
            return round(float(np.min([x[key] for x in rs])), 3)

        out[b] = {"e2e_ms_per_face": med("e2e"), "e2e_ms_per_face_min": low("e2e"),
                  "landmarks_pose_ms_per_face": med("lp"),
                  "landmarks_pose_ms_per_face_min": low("lp"),
                  "dense_ms_per_face": med("dense"), "dense_ms_per_face_min": low("dense"),
                  "network_ms_b1": med("net"), "network_ms_b1_min": low("net_min"),
                  "detect_ms": med("detect"), "detect_ms_min": low("detect"),
                  "stages_ms_per_face": {k: round(float(np.median([x["stages"][k] for x in rs])),
                                                  3) for k in rs[0]["stages"]},
                  "rounds": len(rs)}
    if video_frames:
        say(f"backends {', '.join(names)} in turns: video, {video_frames} frames "
            f"{VIDEO_SIZE[0]}x{VIDEO_SIZE[1]}")
        for b, v in bench_video(prns, image, video_frames).items():
            out[b]["video_fps_640x480"] = v["fps"]
            out[b]["video"] = v
        say(f"backends {', '.join(names)} in turns: video with the mesh drawn into an MP4")
        for b, v in bench_video(prns, image, video_frames, annotated=True).items():
            out[b]["video_mesh_fps_640x480"] = v["fps"]
            out[b]["video_mesh"] = v
    return out
