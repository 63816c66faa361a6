"""Live input for :mod:`prnet.apps.video`: a camera through OpenCV and a preview window.

:class:`CameraReader` reads ``cv2.VideoCapture(N)`` with the interface of
:class:`~prnet.apps.video.VideoReader` (``(index, time_s, frame)`` tuples, RGB, time measured
from the first frame). :class:`Preview` shows the annotated frames with ``cv2.imshow``; ``q``
or Esc in the window stops the run. OpenCV builds without a GUI (``opencv-python-headless``)
and sessions without a display (no ``$DISPLAY`` / ``$WAYLAND_DISPLAY`` on Linux) have no
preview: :func:`preview_problem` says why, in one line.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

import cv2
import numpy as np

from prnet.errors import PRNetError

__all__ = ["CameraReader", "Preview", "camera_index", "preview_problem"]

#: Keys that stop a run from the preview window (q, Q, Esc).
STOP_KEYS = frozenset({ord("q"), ord("Q"), 27})


def camera_index(source: object) -> int | None:
    """The camera number of a video source: an int, or a string of digits that names no
    existing file (``"0"``); None for anything else (a file path)."""
    if isinstance(source, bool):
        return None
    if isinstance(source, int):
        return source
    if isinstance(source, str) and source.isdigit() and not os.path.exists(source):
        return int(source)
    return None


class CameraReader:
    """Frames of camera ``index`` as RGB uint8 arrays, until :meth:`close` or the camera stops.

    Attributes match :class:`~prnet.apps.video.VideoReader`: ``fps`` (what the camera reports,
    30 when it reports nothing usable), ``width``, ``height``, ``frame_count`` (None),
    ``corrupt`` (0), ``error`` (why frames stopped coming, else None), ``backend`` ("camera").

    Raises:
        PRNetError: the camera cannot be opened (one line naming it).
    """

    backend = "camera"

    def __init__(self, index: int) -> None:
        self.index = int(index)
        self.path = f"camera {self.index}"
        self.corrupt = 0
        self.error: str | None = None
        self.frame_count: int | None = None
        cap = cv2.VideoCapture(self.index)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise PRNetError(f"cannot open camera {self.index}: no such camera, or it is busy")
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 1 <= fps <= 240 else 30.0
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        index, t0 = 0, None
        while self._cap is not None:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                self.error = f"camera {self.index} stopped delivering frames"
                return
            now = time.monotonic()
            t0 = now if t0 is None else t0
            yield index, now - t0, np.ascontiguousarray(bgr[:, :, ::-1])
            index += 1

    def close(self) -> None:
        """Release the camera (idempotent)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def preview_problem() -> str | None:
    """Why no preview window can be shown (None when it can): OpenCV built without a GUI, or
    no display to show it on."""
    gui = [ln for ln in cv2.getBuildInformation().splitlines() if ln.strip().startswith("GUI:")]
    if gui and gui[0].split(":", 1)[1].strip().upper() == "NONE":
        return ("OpenCV has no GUI (opencv-python-headless); install opencv-python for the "
                "preview window")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "no display ($DISPLAY is not set)"
    return None


class Preview:
    """A ``cv2.imshow`` window of the annotated frames; :meth:`show` returns False once ``q``
    or Esc was pressed in it (or the window was closed).

    Raises:
        PRNetError: the window cannot be created (the reason in one line).
    """

    def __init__(self, title: str = "prnet") -> None:
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as e:
            raise PRNetError(f"cannot open a preview window: {' '.join(str(e).split())}") from None
        self._open = True

    def show(self, frame_rgb: np.ndarray) -> bool:
        """Show one RGB frame; False when the user asked to stop."""
        if not self._open:
            return False
        cv2.imshow(self.title, np.ascontiguousarray(frame_rgb[:, :, ::-1]))
        key = cv2.waitKey(1) & 0xFF
        closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        if key in STOP_KEYS or closed:
            self.close()
            return False
        return True

    def close(self) -> None:
        """Close the window (idempotent)."""
        if self._open:
            self._open = False
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass
