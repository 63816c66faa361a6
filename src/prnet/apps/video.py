"""Video: decode, reconstruct and track every face, smooth, and write what was found.

Decoding uses PyAV when it is installed (``pip install av``, any format FFmpeg reads) and
OpenCV's ``VideoCapture`` otherwise. Outputs, in the output folder, for ``clip.mp4``:

- ``clip_annotated.mp4``: the processed frames with the mesh, the 68 landmarks, the pose box
  and the track id of every face: H.264 (``yuv420p``, ``+faststart``; plays in browsers) through
  PyAV, or OpenCV ``mp4v`` with a warning when PyAV/libx264 is missing
  (:mod:`prnet.apps.video_writer`);
- ``clip_faces.csv``: one row per face and frame: ``frame, time, track, source, box_x0 …
  box_y1, yaw, pitch, roll, scale, x0, y0, z0 … x67, y67, z67`` (image pixels, degrees),
  flushed after every frame;
- ``clip_faces.npz``: the same as arrays (``frame``, ``time``, ``track``, ``detected``,
  ``box``, ``landmarks`` (K, 68, 3), ``landmarks_raw``, ``pose`` (K, 3) yaw/pitch/roll,
  ``camera_matrix`` (K, 3, 4)) plus ``fps``, ``width``, ``height``;
- with ``obj``: ``clip_obj/clip_f000012_t0.obj`` per frame and track (vertex colours).

Input: a video file, or a camera (``process_video(0, out)``; :mod:`prnet.apps.camera`), with
an optional live preview window.

Tracking: the detector runs on the first frame, every ``detect_every`` frames and when a track is
lost; in between each face is cropped from its previous landmarks (:class:`FaceTracker`).

Smoothing (on by default): a One-Euro filter per track on the whole position map (landmarks,
mesh and OBJ stay consistent); the pose is fitted to the smoothed mesh. Tracking uses the raw
landmarks.

If the run stops early — Ctrl-C, a decoding error, an exception — everything written so far
is kept: the CSV is complete up to the last frame, the video writer is finalised and the NPZ
is written.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from prnet.apps.camera import CameraReader, Preview, camera_index, preview_problem
from prnet.apps.smoothing import OneEuroFilter
from prnet.apps.tracking import FaceTracker, TrackedFace
from prnet.apps.video_writer import CODECS, VideoWriter, open_video_writer
from prnet.errors import PRNetError
from prnet.pipeline import PRN, FaceResult

log = logging.getLogger(__name__)

__all__ = [
    "VideoProcessor",
    "VideoReader",
    "VideoSummary",
    "annotate_frame",
    "have_pyav",
    "process_video",
]

BACKENDS = ("auto", "pyav", "opencv")


def have_pyav() -> bool:
    """True when PyAV (the optional ``av`` package) can be imported."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- reading


#: PyAV colour spaces that are BT.601 (unspecified, BT470BG, SMPTE170M), as OpenCV's I420
#: conversion assumes.
_BT601 = {2, 5, 6}


def frame_rgb(frame) -> np.ndarray:
    """A decoded PyAV frame as (H, W, 3) RGB uint8. Limited-range BT.601 yuv420p (most phone and
    web video at SD sizes) goes through OpenCV's I420 conversion: 0.3 instead of 3-7 ms for a
    640×480 frame, within a few levels of swscale's (its chroma upsampling differs); every other
    format through PyAV (swscale)."""
    w, h = frame.width, frame.height
    if (frame.format.name == "yuv420p" and frame.color_range != 2 and frame.colorspace in _BT601
            and w % 2 == 0 and h % 2 == 0):
        return cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


def _upright(frame: np.ndarray, rotation: float) -> np.ndarray:
    """Apply a display-matrix rotation (degrees counter-clockwise, PyAV's ``VideoFrame.rotation``)
    rounded to a multiple of 90°."""
    k = round((rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, k)) if k else frame


class VideoReader:
    """Frames of a video file as RGB uint8 arrays.

    Iterating yields ``(index, time_s, frame)``, frames upright: the rotation a phone video
    stores in its display matrix is applied (by both backends; PyAV rounds it to a multiple
    of 90°), and ``width`` / ``height`` are those of the upright frames. Packets that fail to decode (PyAV) are
    skipped with a warning and counted in :attr:`corrupt`; an error that ends the stream
    early is kept in :attr:`error` instead of being raised.

    Args:
        path: the video file.
        backend: ``"auto"`` (PyAV if installed, else OpenCV), ``"pyav"`` or ``"opencv"``.

    Raises:
        PRNetError: missing file, unknown backend, PyAV requested but not installed, or a
            file neither backend can open.
    """

    def __init__(self, path: str | os.PathLike, backend: str = "auto") -> None:
        self.path = Path(path)
        if backend not in BACKENDS:
            raise PRNetError(f"video backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if not self.path.is_file():
            raise PRNetError(f"cannot read video {self.path}: file not found")
        if backend == "pyav" and not have_pyav():
            raise PRNetError(
                "the pyav video backend needs PyAV: pip install av (or prnet[video]); "
                "or use --backend opencv"
            )
        self.backend = (
            "pyav" if backend == "pyav" or (backend == "auto" and have_pyav()) else "opencv"
        )
        self.corrupt = 0
        self.error: str | None = None
        self._container = None
        self._cap = None
        self._frames: Iterator[tuple[int, float, np.ndarray]] = iter(())
        if self.backend == "pyav":
            self._open_pyav()
        else:
            self._open_cv()

    def _open_pyav(self) -> None:
        import av

        try:
            self._container = av.open(str(self.path))
            stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError) as e:
            self.close()
            raise PRNetError(f"cannot read video {self.path}: {e or 'no video stream'}") from None
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else 30.0
        self.width, self.height = int(stream.codec_context.width), int(stream.codec_context.height)
        self.frame_count = int(stream.frames) or None
        self._stream = stream
        # The display rotation is only known per frame: decode the first one now, so that
        # width and height describe the upright frames before iteration starts.
        frames = self._decode_pyav()
        first = next(frames, None)
        if first is not None:
            self.height, self.width = first[2].shape[:2]
            self._frames = itertools.chain([first], frames)

    def _open_cv(self) -> None:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise PRNetError(f"cannot read video {self.path}: OpenCV cannot open it")
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 30.0
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = n if n > 0 else None

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        return self._frames if self.backend == "pyav" else self._iter_cv()

    def _decode_pyav(self) -> Iterator[tuple[int, float, np.ndarray]]:
        import av

        index = 0
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                if self.frame_count and index < self.frame_count:
                    self.error = f"stream ended after {index} of {self.frame_count} frames"
                    log.debug("%s: %s", self.path, self.error)
                return
            except av.error.FFmpegError as e:
                self.error = f"demuxing stopped: {e}"
                log.debug("%s: %s", self.path, self.error)
                return
            try:
                frames = packet.decode()
            except av.error.FFmpegError as e:
                self.corrupt += 1
                log.debug("%s: skipping a packet that does not decode: %s", self.path, e)
                continue
            for fr in frames:
                t = float(fr.time) if fr.time is not None else index / self.fps
                yield index, t, _upright(frame_rgb(fr), getattr(fr, "rotation", 0))
                index += 1

    def _iter_cv(self) -> Iterator[tuple[int, float, np.ndarray]]:
        index = 0
        while True:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                if self.frame_count and index < self.frame_count:
                    self.error = f"stream ended after {index} of {self.frame_count} frames"
                    log.debug("%s: %s", self.path, self.error)
                return
            yield index, index / self.fps, np.ascontiguousarray(bgr[:, :, ::-1])
            index += 1

    def close(self) -> None:
        """Release the file (idempotent)."""
        self._frames = iter(())  # drops the decoder generator before the container closes
        if self._container is not None:
            self._container.close()
            self._container = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None


# --------------------------------------------------------------------------- drawing


_MESH_RGB = np.array([140, 200, 255], np.float32)


def _mesh_overlay(img: np.ndarray, face: FaceResult, alpha: float = 0.5) -> np.ndarray:
    """:func:`prnet.io.draw_mesh_overlay`, reusing the face's z-buffer (one raster per face)."""
    from prnet.io.viz import draw_mesh_overlay
    from prnet.render import render_shaded

    h, w = img.shape[:2]
    if (h, w) != face.image_shape:
        return draw_mesh_overlay(img, face.vertices, face.triangles, alpha, tuple(_MESH_RGB))
    shade, mask = render_shaded(face.vertices, face.triangles, h, w, raster=face.raster)
    out = img.copy()
    lit = shade[mask][:, None] * _MESH_RGB
    blend = (1.0 - alpha) * img[mask].astype(np.float32) + alpha * lit
    out[mask] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out


def annotate_frame(
    frame: np.ndarray, faces: list[tuple[int, FaceResult]], mesh: bool = True
) -> np.ndarray:
    """Draw each face's mesh, landmarks (hidden ones red), pose box and track id.

    Args:
        frame: (H, W, 3) uint8 RGB (not modified).
        faces: ``(track_id, face)`` pairs.
        mesh: draw the shaded mesh overlay (the most expensive part).

    Returns:
        A new (H, W, 3) uint8 image.
    """
    from prnet.io.viz import draw_landmarks, draw_pose_box

    out = frame
    for tid, f in faces:
        if mesh:
            out = _mesh_overlay(out, f)
        out = draw_landmarks(out, f.landmarks, visible=f.landmark_visibility)
        out = draw_pose_box(out, f.pose.image_camera_matrix, size=7.0, color=(255, 200, 0))
        # track id under the chin, white on black
        scale = max(0.4, min(frame.shape[:2]) / 800)
        thick = max(1, round(2 * scale))
        text = f"#{tid}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cx = int(f.landmarks[8, 0] - tw / 2)
        cy = int(min(f.landmarks[:, 1].max() + th + 10, frame.shape[0] - base - 2))
        cv2.rectangle(out, (cx - 3, cy - th - 3), (cx + tw + 3, cy + base), (0, 0, 0), -1)
        cv2.putText(
            out,
            text,
            (cx, cy),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thick,
            cv2.LINE_AA,
        )
    return out if out is not frame else frame.copy()


# --------------------------------------------------------------------------- processing


@dataclass
class VideoSummary:
    """What a :class:`VideoProcessor` run did.

    Attributes:
        frames_read: frames decoded.
        frames_processed: frames reconstructed and written.
        faces: face rows written (faces × frames).
        track_ids: every track id seen.
        detector_calls: detector runs.
        seconds: wall time of the processing loop.
        fps: processed frames per second.
        outputs: name → path of each output.
        stopped: None when the whole video was processed, else why it stopped early.
        corrupt_packets: packets skipped because they did not decode.
    """

    frames_read: int = 0
    frames_processed: int = 0
    faces: int = 0
    track_ids: list[int] = field(default_factory=list)
    detector_calls: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)
    stopped: str | None = None
    corrupt_packets: int = 0


class VideoProcessor:
    """Reconstruct and track every face of a video (see the module doc for the outputs).

    Args:
        prn: the reconstructor (default: a new :class:`PRN`).
        every: process every N-th frame (the annotated video has fps / N).
        max_frames: stop after this many processed frames.
        smooth: One-Euro smoothing of the position maps (landmarks, mesh, pose); on by
            default.
        obj: write an OBJ per frame and track.
        detect_every: re-detection period in processed frames: between detections faces are
            tracked from their previous landmarks, and the detector runs earlier only when a
            track is lost (see :class:`FaceTracker`).
        mesh: draw the mesh in the annotated video.
        progress: show a progress bar with the live processing rate.
        backend: ``"auto"``, ``"pyav"`` or ``"opencv"`` (see :class:`VideoReader`).
        min_cutoff, beta: One-Euro parameters (Hz; per face size per second).
        codec: annotated video codec, one of :data:`~prnet.apps.video_writer.CODECS` ("auto":
            H.264 through PyAV when it has libx264, else OpenCV mp4v).
        video: write the annotated video (without it nothing is drawn: the CSV, NPZ and OBJs
            need only landmarks and pose).
        preview: show the annotated frames in a window (``q`` / Esc stops the run); where no
            window can be shown (:func:`~prnet.apps.camera.preview_problem`) a one-line note is
            logged and the run goes on without it.

    Attributes:
        summary: the :class:`VideoSummary`, updated while running (so it is meaningful
            after an interruption too).
        tracker: the :class:`FaceTracker` of the last run.
    """

    def __init__(
        self,
        prn: PRN | None = None,
        every: int = 1,
        max_frames: int | None = None,
        smooth: bool = True,
        obj: bool = False,
        detect_every: int = 30,
        mesh: bool = True,
        progress: bool = True,
        backend: str = "auto",
        min_cutoff: float = 1.0,
        beta: float = 10.0,
        codec: str = "auto",
        preview: bool = False,
        video: bool = True,
    ) -> None:
        if int(every) < 1:
            raise PRNetError(f"every must be >= 1, got {every}")
        if max_frames is not None and int(max_frames) < 1:
            raise PRNetError(f"max_frames must be >= 1, got {max_frames}")
        if backend not in BACKENDS:
            raise PRNetError(f"video backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if codec not in CODECS:
            raise PRNetError(f"video codec must be one of {', '.join(CODECS)}, got {codec!r}")
        self.codec = codec
        self.preview = preview
        self.video = video
        self.prn = prn
        self.every = int(every)
        self.max_frames = None if max_frames is None else int(max_frames)
        self.smooth = smooth
        self.obj = obj
        self.detect_every = detect_every
        self.mesh = mesh
        self.progress = progress
        self.backend = backend
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.summary = VideoSummary()
        self.tracker: FaceTracker | None = None

    def run(self, video: str | os.PathLike | int, out_dir: str | os.PathLike) -> VideoSummary:
        """Process ``video`` into ``out_dir`` (created if missing).

        ``video`` is a file, or a camera number (an int, or a string of digits that names no
        file: ``"0"``), read through :class:`~prnet.apps.camera.CameraReader` until the
        camera stops, ``max_frames``, ``q`` in the preview window or Ctrl-C; its outputs are
        named ``camera0_…``.

        Returns:
            The :class:`VideoSummary`.

        Raises:
            PRNetError: unreadable video or an output that cannot be written. A
            KeyboardInterrupt propagates after the outputs are finalised.
        """
        from tqdm import tqdm

        self.summary = s = VideoSummary()
        cam = camera_index(video)
        reader = CameraReader(cam) if cam is not None else VideoReader(video, self.backend)
        try:
            prn = self.prn if self.prn is not None else PRN()
        except BaseException:
            reader.close()
            raise
        self.prn = prn
        self.tracker = FaceTracker(prn, detect_every=self.detect_every)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"camera{cam}" if cam is not None else Path(video).stem
        window = self._open_preview(stem)
        out_fps = reader.fps / self.every
        total = reader.frame_count
        if total is not None:
            total = -(-total // self.every)
            if self.max_frames is not None:
                total = min(total, self.max_frames)
        sink = _Sink(out, stem, out_fps, (reader.width, reader.height), self.obj, self.codec,
                     video=self.video, draw=self.video or window is not None)
        s.outputs = sink.paths
        filters: dict[int, OneEuroFilter] = {}
        bar = tqdm(total=total, unit="frame", disable=not self.progress, desc=stem, leave=True)
        t_start = time.perf_counter()
        recent: deque[float] = deque(maxlen=11)  # live rate over the last 10 frames
        try:
            for index, t, frame in reader:
                s.frames_read += 1
                if index % self.every:
                    continue
                tracked = self.tracker.update(frame)
                faces = self._smoothed(tracked, filters, t)
                shown = sink.write(index, t, frame, tracked, faces, self.mesh)
                s.frames_processed += 1
                s.faces += len(faces)
                s.track_ids = sorted(set(s.track_ids) | {tf.track_id for tf in tracked})
                s.detector_calls = self.tracker.detector_calls
                s.seconds = time.perf_counter() - t_start
                s.fps = s.frames_processed / max(s.seconds, 1e-9)
                recent.append(time.perf_counter())
                live = (
                    (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9) if len(recent) > 1 else 0
                )
                bar.set_postfix(fps=f"{live:.1f}", faces=len(faces), refresh=False)
                bar.update(1)
                if self.max_frames is not None and s.frames_processed >= self.max_frames:
                    break
                if window is not None and not window.show(shown):
                    break  # q / Esc in the preview window
            if reader.error and s.stopped is None:
                s.stopped = reader.error
        except KeyboardInterrupt:
            s.stopped = "interrupted"
            raise
        except Exception as e:
            s.stopped = f"error: {e}"
            raise
        finally:
            bar.close()
            if window is not None:
                window.close()
            reader.close()
            sink.close(reader.fps)
            s.corrupt_packets = reader.corrupt
            s.seconds = time.perf_counter() - t_start
            s.fps = s.frames_processed / max(s.seconds, 1e-9)
            if s.stopped:
                log.warning(
                    "%s: stopped after %d processed frames (%s); outputs kept in %s",
                    video,
                    s.frames_processed,
                    s.stopped,
                    out,
                )
        return s

    def _open_preview(self, name: str) -> Preview | None:
        """The preview window, or None (not asked for, or none possible: logged in one line)."""
        if not self.preview:
            return None
        problem = preview_problem()
        if problem is None:
            try:
                return Preview(f"prnet: {name} (q to stop)")
            except PRNetError as e:
                problem = str(e)
        log.warning("no preview window: %s; running without it (Ctrl-C stops)", problem)
        return None

    def _smoothed(
        self, tracked: list[TrackedFace], filters: dict[int, OneEuroFilter], t: float
    ) -> list[tuple[int, FaceResult]]:
        live = {tf.track_id for tf in tracked}
        for k in [k for k in filters if k not in live]:
            del filters[k]
        order = sorted(tracked, key=lambda tf: float(tf.face.landmarks[:, 0].mean()))
        out = []
        for i, tf in enumerate(order):
            f = tf.face
            pm = f.posmap
            if self.smooth:
                flt = filters.setdefault(
                    tf.track_id,
                    OneEuroFilter(self.min_cutoff, self.beta, freq=30.0, shared_speed=True),
                )
                if tf.source == "detect":
                    flt.reset()
                size = float(np.mean(np.ptp(f.landmarks[:, :2], axis=0)))
                pm = flt(pm, t, scale=max(size, 1.0)).astype(np.float32)
            out.append((tf.track_id, f.with_posmap(pm, index=i)))
        return sorted(out, key=lambda p: p[0])


def process_video(
    video: str | os.PathLike | int, out_dir: str | os.PathLike, prn: PRN | None = None, **options
) -> VideoSummary:
    """``VideoProcessor(prn, **options).run(video, out_dir)``."""
    return VideoProcessor(prn, **options).run(video, out_dir)


# --------------------------------------------------------------------------- outputs


class _Sink:
    """Writes the annotated video, the CSV (flushed per frame), the NPZ and OBJs."""

    def __init__(self, out: Path, stem: str, fps: float, size: tuple[int, int], obj: bool,
                 codec: str = "auto", video: bool = True, draw: bool = True) -> None:
        self.paths = {
            "video": out / f"{stem}_annotated.mp4",
            "csv": out / f"{stem}_faces.csv",
            "npz": out / f"{stem}_faces.npz",
        }
        if not video:
            del self.paths["video"]
        self.draw = draw
        if obj:
            self.paths["obj"] = out / f"{stem}_obj"
        self.stem, self.fps, self.size, self.codec = stem, fps, size, codec
        self._writer: VideoWriter | None = None
        self._csv_file = open(self.paths["csv"], "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.writer(self._csv_file)
        head = [
            "frame",
            "time",
            "track",
            "source",
            "box_x0",
            "box_y0",
            "box_x1",
            "box_y1",
            "yaw",
            "pitch",
            "roll",
            "scale",
        ]
        head += [f"{c}{i}" for i in range(68) for c in "xyz"]
        self._csv.writerow(head)
        self._csv_file.flush()
        self._rows: dict[str, list] = {
            k: []
            for k in (
                "frame",
                "time",
                "track",
                "detected",
                "box",
                "landmarks",
                "landmarks_raw",
                "pose",
                "camera_matrix",
            )
        }

    def _video(self, shape: tuple[int, ...]) -> VideoWriter:
        if self._writer is None:
            import torch

            h, w = shape[:2]
            self._writer = open_video_writer(self.paths["video"], self.fps, (w, h), self.codec,
                                             threads=torch.get_num_threads())
        return self._writer

    def write(
        self,
        index: int,
        t: float,
        frame: np.ndarray,
        tracked: list[TrackedFace],
        faces: list[tuple[int, FaceResult]],
        mesh: bool,
    ) -> np.ndarray | None:
        """Write one processed frame everywhere; returns the annotated frame (None when
        nothing is drawn)."""
        raw = {tf.track_id: tf for tf in tracked}
        img = annotate_frame(frame, faces, mesh=mesh) if self.draw else None
        if img is not None and "video" in self.paths:
            self._video(img.shape).write(img)  # a size change mid-stream: resized by the writer
        r = self._rows
        for tid, f in faces:
            p = f.pose
            k = f.landmarks
            box = np.r_[k[:, :2].min(0), k[:, :2].max(0)]
            row = [index, f"{t:.4f}", tid, raw[tid].source]
            row += [f"{v:.2f}" for v in box] + [f"{v:.3f}" for v in (p.yaw, p.pitch, p.roll)]
            row += [f"{p.scale:.5f}"] + [f"{v:.2f}" for v in k.ravel()]
            self._csv.writerow(row)
            r["frame"].append(index)
            r["time"].append(t)
            r["track"].append(tid)
            r["detected"].append(raw[tid].source == "detect")
            r["box"].append(box)
            r["landmarks"].append(k)
            r["landmarks_raw"].append(raw[tid].face.landmarks)
            r["pose"].append((p.yaw, p.pitch, p.roll))
            r["camera_matrix"].append(p.camera_matrix)
            if "obj" in self.paths:
                from prnet.outputs import ExportOptions, get_output

                base = self.paths["obj"] / f"{self.stem}_f{index:06d}_t{tid}"
                get_output("obj").write(f, base, ExportOptions.from_names(["obj"]))
        self._csv_file.flush()
        return img

    def close(self, source_fps: float) -> None:
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()
            elif "video" in self.paths and not self.paths["video"].exists():
                del self.paths["video"]  # no frame was processed
        finally:
            if not self._csv_file.closed:
                self._csv_file.close()
            self._write_npz(source_fps)

    def _write_npz(self, source_fps: float) -> None:
        from prnet.io.arrays import write_npz

        r = self._rows
        n = len(r["frame"])
        write_npz(
            self.paths["npz"],
            frame=np.array(r["frame"], np.int64),
            time=np.array(r["time"], np.float64),
            track=np.array(r["track"], np.int64),
            detected=np.array(r["detected"], bool),
            box=np.array(r["box"], np.float32).reshape(n, 4),
            landmarks=np.array(r["landmarks"], np.float32).reshape(n, 68, 3),
            landmarks_raw=np.array(r["landmarks_raw"], np.float32).reshape(n, 68, 3),
            pose=np.array(r["pose"], np.float32).reshape(n, 3),
            camera_matrix=np.array(r["camera_matrix"], np.float32).reshape(n, 3, 4),
            fps=np.float64(self.fps),
            source_fps=np.float64(source_fps),
            width=np.int64(self.size[0]),
            height=np.int64(self.size[1]),
        )
