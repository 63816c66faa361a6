"""Writers of the annotated video: H.264 MP4 that browsers play, OpenCV ``mp4v`` as a fallback.

:func:`open_video_writer` picks PyAV with ``libx264`` (``pip install "prnet[video]"``: PyAV's
wheels ship it) — H.264, ``yuv420p``, ``+faststart`` (the index at the front, so a browser
starts playing before the whole file has arrived) — and falls back to OpenCV's MPEG-4 Part 2
(``mp4v``, which browsers do not play) with a one-line warning when PyAV or its ``libx264``
is missing. H.264 in ``yuv420p`` needs even sizes: an odd width or height is padded by one
pixel (the last column / row repeated). Every writer is finalised by :meth:`close` (also after
an interruption: the file written so far is a complete, playable MP4).
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from prnet.errors import PRNetError

log = logging.getLogger(__name__)

__all__ = [
    "CODECS",
    "H264Writer",
    "Mp4vWriter",
    "VideoWriter",
    "h264_available",
    "open_video_writer",
]

#: Codec choices of :func:`open_video_writer`.
CODECS = ("auto", "h264", "mp4v")

INSTALL_HINT = 'pip install "prnet[video]"'


def h264_available() -> bool:
    """Whether PyAV is installed with the ``libx264`` encoder."""
    try:
        import av
    except ImportError:
        return False
    return "libx264" in av.codecs_available


class VideoWriter(Protocol):
    """An open video file: RGB frames in, :meth:`close` finalises it."""

    path: Path
    codec: str
    size: tuple[int, int]  # (width, height) of the stored frames

    def write(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


def _even(frame: np.ndarray) -> np.ndarray:
    """``frame`` padded to even height and width (last row / column repeated)."""
    h, w = frame.shape[:2]
    if not (h % 2 or w % 2):
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


class H264Writer:
    """H.264 (``libx264``, ``yuv420p``, ``+faststart``) MP4 through PyAV.

    Args:
        path: the ``.mp4`` file.
        fps: frames per second.
        size: (width, height) of the frames; odd sides are padded to even.
        crf: x264 constant rate factor (lower: better and larger; 23 is x264's default).
        preset: x264 speed preset.
        threads: encoder threads (0: x264's choice).

    Raises:
        PRNetError: PyAV or libx264 missing, or the file cannot be opened.
    """

    codec = "h264"

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int],
                 crf: int = 23, preset: str = "veryfast", threads: int = 0) -> None:
        if not h264_available():
            raise PRNetError(f"H.264 video needs PyAV with libx264: {INSTALL_HINT}")
        import av

        self.path = Path(path)
        w, h = (int(size[0]) + 1) // 2 * 2, (int(size[1]) + 1) // 2 * 2
        self.size = (w, h)
        rate = Fraction(float(fps) if fps and np.isfinite(fps) and fps > 0 else 30.0)
        rate = rate.limit_denominator(1001)
        try:
            self._container = av.open(str(self.path), "w", format="mp4",
                                      options={"movflags": "+faststart"})
        except (av.error.FFmpegError, OSError) as e:
            raise PRNetError(f"cannot write video {self.path}: {e}") from None
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height, self._stream.pix_fmt = w, h, "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": preset}
        if threads:
            self._stream.codec_context.thread_count = int(threads)
        self._count = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame (resized to the writer's size if it differs)."""
        import av

        frame = _even(np.ascontiguousarray(frame))
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = self._count
        self._count += 1
        self._container.mux(self._stream.encode(vf))

    def close(self) -> None:
        """Flush the encoder and write the index (idempotent)."""
        if self._container is None:
            return
        try:
            self._container.mux(self._stream.encode())
        finally:
            self._container.close()
            self._container = None


class Mp4vWriter:
    """MPEG-4 Part 2 (``mp4v``) MP4 through OpenCV — plays in desktop players, not in browsers.

    Raises:
        PRNetError: OpenCV cannot open the file for writing.
    """

    codec = "mp4v"

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                       self.size)
        if not self._writer.isOpened():
            raise PRNetError(f"cannot write video {self.path}: OpenCV mp4v writer failed")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame (resized to the writer's size if it differs)."""
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(frame[:, :, ::-1]))

    def close(self) -> None:
        """Finalise the file (idempotent)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def open_video_writer(path: str | os.PathLike, fps: float, size: tuple[int, int],
                      codec: str = "auto", threads: int = 0) -> VideoWriter:
    """A writer for ``path``: H.264 through PyAV when ``codec`` is "h264", or "auto" and PyAV
    has libx264; else OpenCV ``mp4v`` ("auto" logs one warning line naming the extra).

    Raises:
        PRNetError: an unknown codec, "h264" without PyAV/libx264, or an unwritable file.
    """
    if codec not in CODECS:
        raise PRNetError(f"video codec must be one of {', '.join(CODECS)}, got {codec!r}")
    if codec == "h264" or (codec == "auto" and h264_available()):
        return H264Writer(path, fps, size, threads=threads)
    if codec == "auto":
        log.warning("PyAV with libx264 not installed (%s): writing %s as mp4v, which browsers "
                    "do not play", INSTALL_HINT, Path(path).name)
    return Mp4vWriter(path, fps, size)
