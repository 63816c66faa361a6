"""The real-time figures of ``prnet bench``, per stage-4 backend (figures are never asserted).

* :func:`bench_landmarks_pose` — what landmarks and pose cost per face: detect, crop, network,
  uncrop, 68 landmarks and the pose fit; no dense output (colours, z-buffer) is computed.
* :func:`bench_video` — frames per second of the ``prnet video`` tracking path (decode, track,
  network, landmarks/pose, CSV/NPZ; no annotated video) on a synthetic 640×480 clip of the
  bundled photo.
* :func:`bench_backend` — both, plus the end-to-end pipeline and the network's batch-1 time, for
  one :class:`prnet.PRN`; :func:`available_backends` lists the backends to time.
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
    "bench_backend",
    "bench_landmarks_pose",
    "bench_video",
    "synthetic_clip",
]

#: (width, height) of :func:`bench_video`'s clip.
VIDEO_SIZE = (640, 480)


def available_backends(device: str, precision: str = "fp32") -> list[str]:
    """"torch", plus "onnxruntime" when it is installed and the run is fp32 on the CPU."""
    from prnet.pipeline.onnx_backend import resolve_backend

    return ["torch"] + (["onnxruntime"] if resolve_backend("auto", device, precision)
                        == "onnxruntime" else [])


def bench_landmarks_pose(prn: Any, image: np.ndarray, repeats: int = 5) -> dict[str, Any]:
    """Per-face time of detect → crop → network → uncrop → landmarks → pose (median over
    ``repeats`` after one warm-up), and the detector's time per image.

    Returns:
        ``{"landmarks_pose_ms_per_face", "landmarks_pose_ms_per_face_min", "detect_ms",
        "faces"}``.

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
        batch = prn.crop(image, plans)
        faces = prn.faces(image, plans, prn.uncrop(batch, prn.predict_crops(batch.crops)))
        for f in faces:
            _ = f.landmarks, f.pose
        t2 = time.perf_counter()
        if rep:
            n = len(faces)
            totals.append((t2 - t0) * 1e3 / n)
            detects.append((t1 - t0) * 1e3)
    return {"landmarks_pose_ms_per_face": round(float(np.median(totals)), 3),
            "landmarks_pose_ms_per_face_min": round(float(np.min(totals)), 3),
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


def bench_video(prn: Any, image: np.ndarray, frames: int = 300,
                size: tuple[int, int] = VIDEO_SIZE) -> dict[str, Any]:
    """Frames per second of :class:`~prnet.apps.video.VideoProcessor` (decode, track, network,
    landmarks and pose, smoothing, CSV and NPZ; no annotated video) on a synthetic clip of
    ``image`` (:func:`synthetic_clip`, not timed), wall time of the whole run.

    Returns:
        ``{"frames", "width", "height", "fps", "ms_per_frame", "detector_calls", "faces"}``.

    Raises:
        PRNetError: ``frames < 1``.
    """
    from prnet.apps.video import VideoProcessor

    if frames < 1:
        raise PRNetError(f"video frames: expected ≥ 1, got {frames}")
    with tempfile.TemporaryDirectory() as tmp:
        clip = synthetic_clip(Path(tmp) / "bench.mp4", image, frames, size)
        proc = VideoProcessor(prn, progress=False, video=False)
        t0 = time.perf_counter()
        s = proc.run(clip, Path(tmp) / "out")
        dt = time.perf_counter() - t0
    n = max(s.frames_processed, 1)
    return {"frames": s.frames_processed, "width": size[0], "height": size[1],
            "fps": round(n / dt, 2), "ms_per_frame": round(dt * 1e3 / n, 3),
            "detector_calls": s.detector_calls, "faces": s.faces}


def bench_backend(prn: Any, image_bytes: bytes, repeats: int = 5, seconds: float = 1.0,
                  video_frames: int = 300, name: str = "mobilenet_unet",
                  pipeline: dict[str, Any] | None = None,
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The real-time figures of one :class:`prnet.PRN` (its backend): ``e2e_ms_per_face``
    (the whole pipeline with exports, :func:`~prnet.eval.bench.bench_pipeline`, reused when
    given as ``pipeline``), ``landmarks_pose_ms_per_face`` and ``detect_ms``
    (:func:`bench_landmarks_pose`), ``network_ms_b1`` (its stage-4 callable at batch 1) and
    ``video_fps_640x480`` (:func:`bench_video`; skipped when ``video_frames`` is 0); ``…_min``:
    the fastest repeat, the figure least disturbed by other load."""
    from prnet.eval.bench import bench_pipeline, bench_stage4
    from prnet.io import read_image

    say = log or (lambda _msg: None)
    image = read_image(image_bytes)
    say(f"{prn.backend}: pipeline, landmarks + pose")
    pipe = pipeline or bench_pipeline(prn, image_bytes, repeats=repeats)
    lp = bench_landmarks_pose(prn, image, repeats)
    net = bench_stage4(prn.network, name, (1,), seconds)[0]
    out: dict[str, Any] = {
        "e2e_ms_per_face": pipe["e2e_ms_per_face"],
        "e2e_ms_per_face_min": pipe["e2e_ms_per_face_min"],
        "landmarks_pose_ms_per_face": lp["landmarks_pose_ms_per_face"],
        "landmarks_pose_ms_per_face_min": lp["landmarks_pose_ms_per_face_min"],
        "network_ms_b1": net["ms_per_batch"],
        "network_ms_b1_min": net["ms_per_batch_min"],
        "detect_ms": lp["detect_ms"],
        "stages_ms_per_face": pipe["stages_ms_per_face"],
    }
    if video_frames:
        say(f"{prn.backend}: video, {video_frames} frames {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]}")
        video = bench_video(prn, image, video_frames)
        out["video_fps_640x480"] = video["fps"]
        out["video"] = video
    return out
