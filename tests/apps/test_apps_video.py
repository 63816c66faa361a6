"""Video: tracking on synthetic motion of a real photo, outputs, interruption, readers, CLI."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from prnet import PRN
from prnet.apps.video import VideoProcessor, VideoReader, have_pyav, process_video
from prnet.cli import main
from prnet.errors import PRNetError
from prnet.io import read_image, read_npz

W, H, N, FPS = 320, 240, 12, 10.0


def _motion(i: int) -> np.ndarray:
    """Frame i: the astronaut's face rotated by up to ±8° and shifted (2.5, 1) px per frame."""
    m = cv2.getRotationMatrix2D((225.0, 128.0), 8 * np.sin(i / N * 2 * np.pi), 1.0)
    m[:, 2] += [-225 + W / 2 - 15 + 2.5 * i, -128 + H / 2 + 1.0 * i]
    return m


def _write_video(path, img_rgb, n=N, fourcc="mp4v"):
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (W, H))
    assert wr.isOpened()
    bgr = np.ascontiguousarray(img_rgb[:, :, ::-1])
    for i in range(n):
        wr.write(cv2.warpAffine(bgr, _motion(i), (W, H), borderMode=cv2.BORDER_REFLECT))
    wr.release()
    return path


class Counting:
    """Wraps a PRN: counts detector calls and network passes, can raise after some passes.

    The pipeline stages that call the network run on the wrapper, so every pass is counted."""

    posmaps = PRN.posmaps
    refined = PRN.refined

    def __init__(self, prn, raise_at: int | None = None):
        self._prn = prn
        self.detect_calls = 0
        self.net_calls = 0
        self.raise_at = raise_at

    def __getattr__(self, name):
        return getattr(self._prn, name)

    def detect(self, image, key=None):
        self.detect_calls += 1
        return self._prn.detect(image, key)

    def predict_crops(self, crops):
        self.net_calls += 1
        if self.raise_at is not None and self.net_calls >= self.raise_at:
            raise KeyboardInterrupt
        return self._prn.predict_crops(crops)


@pytest.fixture(scope="module")
def astro(sample_image_path):
    return read_image(sample_image_path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astro):
    return _write_video(tmp_path_factory.mktemp("video") / "clip.mp4", astro)


@pytest.fixture(scope="module")
def run(prn, clip, tmp_path_factory):
    counting = Counting(prn)
    out = tmp_path_factory.mktemp("video_out")
    proc = VideoProcessor(counting, progress=False, backend="opencv", detect_every=30)
    summary = proc.run(clip, out)
    return summary, out, counting, proc


def test_one_track_follows_the_motion(run):
    summary, out, counting, proc = run
    assert summary.frames_read == N and summary.frames_processed == N
    assert summary.track_ids == [0] and summary.faces == N
    assert summary.stopped is None
    # the detector ran once (first frame), not on every frame
    assert counting.detect_calls == 1 == summary.detector_calls == proc.tracker.detector_calls
    z = read_npz(out / "clip_faces.npz")
    assert (z["frame"] == np.arange(N)).all() and (z["track"] == 0).all()
    assert z["detected"].tolist() == [True] + [False] * (N - 1)
    raw, smooth = z["landmarks_raw"], z["landmarks"]
    a0 = np.vstack([_motion(0), [0, 0, 1]])
    for i in range(1, N):
        t = np.vstack([_motion(i), [0, 0, 1]]) @ np.linalg.inv(a0)
        expect = raw[0, :, :2] @ t[:2, :2].T + t[:2, 2]
        assert np.linalg.norm(raw[i, :, :2] - expect, axis=1).mean() < 2.5
        assert np.linalg.norm(smooth[i, :, :2] - expect, axis=1).mean() < 4.0
    # roll follows the ±8° rotation (sign: clockwise on screen is positive)
    roll = z["pose"][:, 2]
    rot = np.array([8 * np.sin(i / N * 2 * np.pi) for i in range(N)])
    assert np.corrcoef(roll, -rot)[0, 1] > 0.9


def test_outputs_csv_npz_video(run):
    summary, out, _, _ = run
    assert set(summary.outputs) == {"video", "csv", "npz"}
    with open(out / "clip_faces.csv", newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    assert head[:12] == [
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
    assert len(head) == 12 + 68 * 3 and len(body) == N
    assert [int(r[0]) for r in body] == list(range(N)) and {r[2] for r in body} == {"0"}
    z = read_npz(out / "clip_faces.npz")
    np.testing.assert_allclose(
        np.array([r[12:] for r in body], float).reshape(N, 68, 3), z["landmarks"], atol=0.01
    )
    np.testing.assert_allclose(z["time"], np.arange(N) / FPS, atol=1e-6)
    assert z["camera_matrix"].shape == (N, 3, 4) and float(z["fps"]) == pytest.approx(FPS)
    frames = list(VideoReader(out / "clip_annotated.mp4", "opencv"))
    assert len(frames) == N and frames[0][2].shape == (H, W, 3)


def test_interrupted_run_keeps_written_frames(prn, clip, tmp_path):
    # frame 0: 2 passes (detector box + landmark refine); frames 1, 2: one each; 5th pass raises
    counting = Counting(prn, raise_at=5)
    proc = VideoProcessor(counting, progress=False, backend="opencv", obj=True)
    with pytest.raises(KeyboardInterrupt):
        proc.run(clip, tmp_path)
    assert proc.summary.stopped == "interrupted" and proc.summary.frames_processed == 3
    with open(tmp_path / "clip_faces.csv", newline="") as f:
        assert len(list(csv.reader(f))) == 1 + 3
    assert read_npz(tmp_path / "clip_faces.npz")["frame"].tolist() == [0, 1, 2]
    assert len(list(VideoReader(tmp_path / "clip_annotated.mp4", "opencv"))) == 3
    assert len(list((tmp_path / "clip_obj").glob("*.obj"))) == 3


def test_truncated_video_keeps_what_decodes(prn, astro, tmp_path):
    path = _write_video(tmp_path / "cut.avi", astro, n=6, fourcc="MJPG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    s = process_video(path, tmp_path / "out", prn, progress=False, backend="opencv", smooth=False)
    assert 0 < s.frames_processed < 6 and s.stopped and "stream ended" in s.stopped
    assert len(read_npz(tmp_path / "out" / "cut_faces.npz")["frame"]) == s.frames_processed


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_reader_backends(clip, backend):
    if backend == "pyav" and not have_pyav():
        pytest.skip("PyAV not installed")
    r = VideoReader(clip, backend)
    assert r.backend == backend and (r.width, r.height) == (W, H)
    assert r.fps == pytest.approx(FPS)
    frames = list(r)
    r.close()
    assert len(frames) == N
    i, t, f = frames[3]
    assert (
        i == 3
        and t == pytest.approx(0.3, abs=1e-3)
        and f.shape == (H, W, 3)
        and f.dtype == np.uint8
    )


@pytest.mark.parametrize("degrees", [-90, 90, 180])
def test_reader_applies_display_rotation(tmp_path, degrees):
    """A phone video stores its orientation in the display matrix: both backends yield upright
    frames, and width / height describe them."""
    if not have_pyav():
        pytest.skip("PyAV not installed (needed to write a display matrix)")
    import av

    img = np.zeros((64, 96, 3), np.uint8)
    img[:16, :32] = (255, 0, 0)  # red block at the top left of the stored frame
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.set_display_rotation(degrees)
        for _ in range(3):
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode())
    want = np.rot90(img, degrees // 90)  # counter-clockwise by `degrees`
    for backend in ("pyav", "opencv"):
        r = VideoReader(path, backend)
        frames = [f for _, _, f in r]
        r.close()
        assert len(frames) == 3, backend
        assert frames[0].shape == want.shape and (r.height, r.width) == want.shape[:2], backend
        red = np.argwhere(frames[0][..., 0] > 128).mean(0)
        assert np.abs(red - np.argwhere(want[..., 0] > 128).mean(0)).max() < 2, backend


def test_reader_errors(tmp_path, monkeypatch):
    with pytest.raises(PRNetError, match="cannot read video .*missing.mp4: file not found"):
        VideoReader(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(PRNetError, match="cannot read video"):
        VideoReader(bad, "opencv")
    with pytest.raises(PRNetError, match="backend must be one of auto, pyav, opencv"):
        VideoReader(bad, "gstreamer")
    from prnet.apps import video

    monkeypatch.setattr(video, "have_pyav", lambda: False)
    with pytest.raises(PRNetError, match="pyav video backend needs PyAV: pip install av"):
        VideoReader(bad, "pyav")
    assert (
        VideoReader(_write_video(tmp_path / "ok.mp4", np.zeros((H, W, 3), np.uint8), n=2)).backend
        == "opencv"
    )
    with pytest.raises(PRNetError, match="every must be >= 1"):
        VideoProcessor(every=0)


def test_cli_video(prn, clip, tmp_path, monkeypatch, capsys):
    import prnet.cli.apps as cli_apps

    monkeypatch.setattr(cli_apps, "load_prn", lambda args, **kw: prn)
    rc = main(
        [
            "video",
            str(clip),
            "-o",
            str(tmp_path),
            "--every",
            "2",
            "--max-frames",
            "3",
            "--no-smooth",
            "--no-mesh",
            "--no-progress",
            "--decoder",
            "opencv",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "3 frame(s), 3 face row(s), tracks [0], 1 detector call(s)" in out
    assert out.rstrip().endswith("fps (mobilenet_unet network, torch)")  # what ran, named
    z = read_npz(tmp_path / "clip_faces.npz")
    assert z["frame"].tolist() == [0, 2, 4] and float(z["fps"]) == pytest.approx(FPS / 2)
    np.testing.assert_array_equal(z["landmarks"], z["landmarks_raw"])  # --no-smooth
    assert main(["video", str(tmp_path / "nope.mp4"), "-o", str(tmp_path)]) == 1
    assert "file not found" in capsys.readouterr().err


def _frames_video(path, frames):
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    for f in frames:
        wr.write(np.ascontiguousarray(f[:, :, ::-1]))
    wr.release()
    return path


def test_new_face_gets_a_new_track_at_the_next_detection(prn, astro, tmp_path):
    crop = astro[40:300, 100:360]
    blank = np.full_like(crop, 128)
    one = np.hstack([crop, blank])
    two = np.hstack([crop, crop[:, ::-1]])
    clip = _frames_video(tmp_path / "two.mp4", [one] * 4 + [two] * 4)
    counting = Counting(prn)
    s = process_video(
        clip,
        tmp_path / "out",
        counting,
        progress=False,
        backend="opencv",
        detect_every=3,
        mesh=False,
    )
    z = read_npz(tmp_path / "out" / "two_faces.npz")
    # detector on frames 0, 3 and 6 only; the second face is picked up at frame 6
    assert counting.detect_calls == 3 == s.detector_calls
    assert s.track_ids == [0, 1]
    assert z["frame"][z["track"] == 0].tolist() == list(range(8))
    assert z["frame"][z["track"] == 1].tolist() == [6, 7]
    assert (z["box"][z["track"] == 0][:, 2] < 260).all() and (
        z["box"][z["track"] == 1][:, 0] > 260
    ).all()


def test_lost_track_triggers_detection(prn, astro, tmp_path):
    crop = astro[40:300, 100:360]
    canvas = np.full((260, 700, 3), 128, np.uint8)
    left, right = canvas.copy(), canvas.copy()
    left[:, :260] = crop
    right[:, 440:] = crop  # the face jumps 440 px: the landmark crop finds nothing there
    clip = _frames_video(tmp_path / "jump.mp4", [left] * 2 + [right] * 2)
    counting = Counting(prn)
    s = process_video(
        clip,
        tmp_path / "out",
        counting,
        progress=False,
        backend="opencv",
        detect_every=30,
        mesh=False,
        smooth=False,
    )
    z = read_npz(tmp_path / "out" / "jump_faces.npz")
    assert counting.detect_calls == 2  # frame 0, and frame 2 where the track was lost
    assert z["frame"].tolist() == [0, 1, 2, 3] and z["detected"].tolist() == [
        True,
        False,
        True,
        False,
    ]
    assert s.track_ids == [0, 1] and z["track"].tolist() == [0, 0, 1, 1]
    assert z["box"][2, 0] > 440


@pytest.mark.skipif(not have_pyav(), reason='needs PyAV: pip install "prnet[video]"')
def test_frame_rgb_takes_the_fast_conversion_only_where_it_holds(tmp_path, sample_image_path):
    """BT.601 limited-range yuv420p frames go through OpenCV's I420 conversion (within a few
    levels of swscale's); other colour spaces and formats through swscale, unchanged."""
    import av

    from prnet.apps.video import frame_rgb
    from prnet.eval.bench_backends import synthetic_clip

    clip = synthetic_clip(tmp_path / "c.mp4", read_image(sample_image_path), 5)
    with av.open(str(clip)) as c:
        frames = list(c.decode(video=0))
    assert frames[0].format.name == "yuv420p"
    for fr in frames:
        slow, fast = fr.to_ndarray(format="rgb24"), frame_rgb(fr)
        assert fast.shape == slow.shape and fast.dtype == np.uint8
        d = np.abs(fast.astype(int) - slow.astype(int))
        assert d.mean() < 2.0 and np.percentile(d, 99) <= 6
    other = av.VideoFrame.from_ndarray(slow, format="rgb24").reformat(format="yuv444p")
    assert np.array_equal(frame_rgb(other), other.to_ndarray(format="rgb24"))
