"""Video for people to watch and live input: H.264 that Chromium plays, truncated inputs, the
mp4v fallback, camera input (a fake ``cv2.VideoCapture``), the preview window and re-detection."""

from __future__ import annotations

import csv
import functools
import http.server
import logging
import threading
from typing import ClassVar

import cv2
import numpy as np
import pytest

from prnet.apps import camera as camera_mod
from prnet.apps import video_writer
from prnet.apps.video import VideoProcessor
from prnet.cli import main
from prnet.io import read_image, read_npz

av = pytest.importorskip("av", reason="PyAV not installed (prnet[video])")
needs_h264 = pytest.mark.skipif(not video_writer.h264_available(), reason="PyAV without libx264")

W, H, FPS = 321, 241, 10.0  # odd on purpose: H.264 in yuv420p needs even sides


@pytest.fixture(scope="module")
def astro(sample_image_path):
    return read_image(sample_image_path)


def _frame(astro: np.ndarray, i: int, w: int = W, h: int = H) -> np.ndarray:
    """The astronaut's face near the centre of a w×h frame, shifted 2 px right per frame."""
    m = np.float32([[1, 0, -225 + w / 2 + 2 * i], [0, 1, -128 + h / 2]])
    return cv2.warpAffine(astro, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def _h264_clip(path, astro, n: int) -> list[tuple[int, int]]:
    """Write an n-frame H.264 MP4 with its index in front; returns (pos, size) per packet."""
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=int(FPS))
        s.width, s.height, s.pix_fmt = W + 1, H + 1, "yuv420p"
        for i in range(n):
            c.mux(s.encode(av.VideoFrame.from_ndarray(_frame(astro, i, W + 1, H + 1), "rgb24")))
        c.mux(s.encode())
    with av.open(str(path)) as c:
        return [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]


def _probe(path) -> tuple[str, str, int, int, int]:
    """(codec, pix_fmt, width, height, frames decoded) of a video file."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return s.codec_context.name, s.codec_context.pix_fmt, s.width, s.height, n


def _use(monkeypatch, prn):
    import prnet.cli.apps as cli_apps

    monkeypatch.setattr(cli_apps, "load_prn", lambda args, **kw: prn)


@needs_h264
def test_annotated_video_is_h264_and_plays_in_chromium(prn, astro, tmp_path, monkeypatch,
                                                        chromium, capsys):
    clip = tmp_path / "clip.mkv"  # lossless FFV1 keeps the odd size
    with av.open(str(clip), "w") as c:
        s = c.add_stream("ffv1", rate=int(FPS))
        s.width, s.height, s.pix_fmt = W, H, "bgr0"
        for i in range(6):
            c.mux(s.encode(av.VideoFrame.from_ndarray(_frame(astro, i), "rgb24")))
        c.mux(s.encode())
    _use(monkeypatch, prn)
    out = tmp_path / "out"
    assert main(["video", str(clip), "-o", str(out), "--no-progress", "--no-mesh"]) == 0
    capsys.readouterr()
    video = out / "clip_annotated.mp4"
    assert _probe(video) == ("h264", "yuv420p", W + 1, H + 1, 6)
    head = video.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # +faststart

    (tmp_path / "index.html").write_text(
        f'<video id="v" muted preload="auto" src="out/{video.name}"></video>', encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = chromium.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        page.wait_for_function(
            "() => { const v = document.getElementById('v'); "
            "return v.readyState >= 2 || v.error !== null; }", timeout=30000)
        state = page.evaluate(
            "() => { const v = document.getElementById('v'); return {err: v.error && "
            "v.error.code, w: v.videoWidth, h: v.videoHeight, ready: v.readyState}; }")
        page.close()
    finally:
        server.shutdown()
        server.server_close()
    assert state["err"] is None and state["ready"] >= 2
    assert (state["w"], state["h"]) == (W + 1, H + 1)


@needs_h264
def test_truncated_input_one_line_and_valid_outputs(prn, astro, tmp_path, monkeypatch, capsys):
    full = tmp_path / "full.mp4"
    packets = _h264_clip(full, astro, 16)
    pos, size = packets[10]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: pos + size // 2])  # ends inside the 11th packet
    _use(monkeypatch, prn)
    out = tmp_path / "out"
    rc = main(["video", str(cut), "-o", str(out), "--no-progress", "--no-mesh"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1 and "stopped early" in err[0] and "outputs so far kept" in err[0]
    with open(out / "cut_faces.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    n = len(rows)
    assert 0 < n < 16
    assert _probe(out / "cut_annotated.mp4")[4] == n  # a complete, decodable MP4
    assert len(read_npz(out / "cut_faces.npz")["frame"]) == n
    # an unreadable file: one line, nothing written
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(full.read_bytes()[:200])
    assert main(["video", str(bad), "-o", str(tmp_path / "bad_out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("prnet: error: cannot read video")


def test_mp4v_fallback_warns_once(prn, astro, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(video_writer, "h264_available", lambda: False)
    monkeypatch.setattr(cv2, "VideoCapture", _fake_capture([_frame(astro, i) for i in range(3)]))
    with caplog.at_level(logging.WARNING, logger="prnet.apps.video_writer"):
        s = VideoProcessor(prn, progress=False, mesh=False).run(0, tmp_path)
    warned = [r for r in caplog.records if r.name == "prnet.apps.video_writer"]
    assert len(warned) == 1 and 'pip install "prnet[video]"' in warned[0].getMessage()
    assert s.frames_processed == 3
    with av.open(str(tmp_path / "camera0_annotated.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "mpeg4"
    with pytest.raises(Exception, match="video codec must be one of"):
        VideoProcessor(prn, codec="vp9")


# --------------------------------------------------------------------------- camera


def _fake_capture(frames: list[np.ndarray], interrupt_after: int | None = None,
                  opened: bool = True):
    """A stand-in for ``cv2.VideoCapture`` that yields ``frames`` (RGB) as BGR, then fails;
    with ``interrupt_after`` it raises KeyboardInterrupt (Ctrl-C) on that read instead."""

    class FakeCapture:
        instances: ClassVar[list] = []

        def __init__(self, index):
            self.index, self.n, self.released = index, 0, False
            FakeCapture.instances.append(self)

        def isOpened(self):
            return opened

        def get(self, prop):
            return {cv2.CAP_PROP_FPS: FPS, cv2.CAP_PROP_FRAME_WIDTH: frames[0].shape[1],
                    cv2.CAP_PROP_FRAME_HEIGHT: frames[0].shape[0]}.get(prop, 0.0)

        def read(self):
            if interrupt_after is not None and self.n == interrupt_after:
                raise KeyboardInterrupt
            if self.n >= len(frames):
                return False, None
            self.n += 1
            return True, np.ascontiguousarray(frames[self.n - 1][:, :, ::-1])

        def release(self):
            self.released = True

    return FakeCapture


def test_camera_ctrl_c_finalises_outputs(prn, astro, tmp_path, monkeypatch, capsys):
    fake = _fake_capture([_frame(astro, i) for i in range(20)], interrupt_after=7)
    monkeypatch.setattr(cv2, "VideoCapture", fake)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    _use(monkeypatch, prn)
    out = tmp_path / "out"
    rc = main(["video", "0", "-o", str(out), "--no-progress", "--no-mesh",
               "--redetect-every", "3"])
    cap = capsys.readouterr()
    assert rc == 0
    # one note: no GUI (headless OpenCV) or no display, then the run goes on without a window
    notes = cap.err.strip().splitlines()
    assert len(notes) == 1 and notes[0].startswith("prnet: note: no preview window")
    # frames 0..6 processed; the detector ran on frames 0, 3 and 6 only (tracking in between)
    assert "7 frame(s), 7 face row(s), tracks [0], 3 detector call(s)" in cap.out
    z = read_npz(out / "camera0_faces.npz")
    assert z["frame"].tolist() == list(range(7))
    assert z["detected"].tolist() == [True] + [False] * 6  # re-detections confirm the track
    assert not np.array_equal(z["landmarks"], z["landmarks_raw"])  # One-Euro on by default
    assert all(c.released for c in fake.instances)
    with open(out / "camera0_faces.csv", newline="") as f:
        assert len(list(csv.reader(f))) == 1 + 7
    if video_writer.h264_available():
        assert _probe(out / "camera0_annotated.mp4")[4] == 7


def test_camera_preview_q_stops(prn, astro, tmp_path, monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", _fake_capture([_frame(astro, i) for i in range(9)]))
    monkeypatch.setattr(camera_mod, "preview_problem", lambda: None)
    shown = []
    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, img: shown.append(img.shape))
    monkeypatch.setattr(cv2, "waitKey", lambda ms: ord("q") if len(shown) == 4 else -1)
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr("prnet.apps.video.preview_problem", lambda: None)
    s = VideoProcessor(prn, progress=False, mesh=False, preview=True).run("0", tmp_path)
    assert s.frames_processed == 4 and s.stopped is None and shown == [(H, W, 3)] * 4
    assert len(read_npz(tmp_path / "camera0_faces.npz")["frame"]) == 4


def test_missing_camera_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cv2, "VideoCapture",
                        _fake_capture([np.zeros((8, 8, 3), np.uint8)], opened=False))
    assert main(["video", "--camera", "3", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["prnet: error: cannot open camera 3: no such camera, or it is busy"]
    assert not (tmp_path / "out").exists()
    assert main(["video", "-o", str(tmp_path / "out")]) == 1
    assert "no input" in capsys.readouterr().err
