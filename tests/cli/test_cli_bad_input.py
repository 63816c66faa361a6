"""`prnet reconstruct` on awkward and broken inputs: odd formats must work, broken files give
one line on stderr naming the file (never a traceback), and the other inputs still get their
outputs."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from prnet.cli import main

GOOD = ["good.jpg", "grey.png", "rgba.png", "grey16.png", "rgb16.png", "cmyk.jpg",
        "exif6.jpg", "upright.jpg"]
# file → words expected in its one stderr line
BAD = {
    "zero.jpg": "empty file",
    "truncated.jpg": "truncated",
    "text.jpg": "not an image",
    "huge.png": "too large",
    "missing.jpg": "not found",
}


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width × height pixels (no pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def make_inputs(folder: Path, sample: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rgb = np.array(Image.open(sample).convert("RGB"))
    shutil.copy(sample, folder / "good.jpg")
    Image.fromarray(rgb).convert("L").save(folder / "grey.png")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0  # some transparency, away from the face
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    cv2.imwrite(str(folder / "grey16.png"), rgb[..., 0].astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "rgb16.png"), rgb[..., ::-1].astype(np.uint16) * 257)
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    # EXIF orientation 6 (rotate 90° clockwise to view): store the upright picture turned
    # 90° counter-clockwise. Non-square, so a missed rotation also shows in width/height.
    upright = np.ascontiguousarray(rgb[:, :448])
    Image.fromarray(upright).save(folder / "upright.jpg", quality=95)
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(folder / "exif6.jpg", quality=95, exif=exif)
    (folder / "zero.jpg").write_bytes(b"")
    data = sample.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "text.jpg").write_text("this is a text file, not a JPEG\n")
    png_header_only(folder / "huge.png", 20_000, 20_000)  # 400 Mpx > the 80 Mpx default limit
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(folder / "blank.png")


@pytest.fixture(scope="module")
def batch(tmp_path_factory, sample_image_path):
    """One run over every awkward input (plus a missing path): (code, out, err, in, out dir)."""
    root = tmp_path_factory.mktemp("bad")
    src = root / "in"
    make_inputs(src, sample_image_path)
    out = root / "out"
    code, stdout, stderr = run_cli("reconstruct", src, src / "missing.jpg", "-o", out, "--kpt")
    return code, stdout, stderr, src, out


def landmarks(out: Path, stem: str) -> np.ndarray:
    s = json.loads((out / f"{stem}.json").read_text())
    assert len(s["faces"]) == 1, stem
    return np.array(s["faces"][0]["landmarks"])


def test_batch_exit_code_and_clean_stderr(batch):
    code, stdout, stderr, _, _ = batch
    assert code == 1  # some inputs could not be read
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert all(line.startswith("prnet: ") for line in lines), lines
    assert len(lines) == len(BAD) + 1  # + the warning for the image without a face
    n_images = len(GOOD) + len(BAD) - 1 + 1  # files in the folder (not missing.jpg), + blank
    assert (f"{n_images} images, {len(GOOD)} faces, 1 without a face, {len(BAD)} failed"
            in stdout)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_one_line_naming_the_file(batch, name):
    _, _, stderr, src, out = batch
    lines = [line for line in stderr.splitlines() if name in line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("prnet: error: ") and str(src / name) in lines[0]
    assert BAD[name] in lines[0]
    assert not (out / f"{Path(name).stem}.json").exists()


@pytest.mark.parametrize("name", GOOD)
def test_odd_formats_work(batch, name):
    _, _, stderr, _, out = batch
    assert name not in stderr
    stem = Path(name).stem
    k = landmarks(out, stem)
    assert (out / f"{stem}_0_kpt.txt").is_file()
    ref = landmarks(out, "good")
    if name in ("exif6.jpg", "upright.jpg"):
        ref = landmarks(out, "upright")
    # the same face, decoded differently (grey, 16-bit, CMYK round trip, JPEG again)
    assert np.abs(k - ref)[:, :2].mean() < 2.0, name


def test_exif_rotation_applied(batch):
    _, _, _, src, out = batch
    with Image.open(src / "exif6.jpg") as im:
        assert im.size == (512, 448)  # stored sideways
    s = json.loads((out / "exif6.json").read_text())
    assert (s["width"], s["height"]) == (448, 512)  # as displayed
    k, up = landmarks(out, "exif6"), landmarks(out, "upright")
    np.testing.assert_allclose(k[:, :2], up[:, :2], atol=2.5)
    # in the stored (unrotated) pixels the face lies elsewhere: x_stored = y, y_stored = W-1-x
    stored_xy = np.stack([up[:, 1], 447 - up[:, 0]], 1)
    assert np.abs(stored_xy - k[:, :2]).mean() > 20


def test_no_face_is_reported_not_failed(batch):
    _, _, stderr, src, out = batch
    assert f"prnet: warning: no face found in {src / 'blank.png'}" in stderr.splitlines()
    s = json.loads((out / "blank.json").read_text())
    assert s["faces"] == [] and s["files"] == [] and (s["width"], s["height"]) == (160, 120)


def test_max_pixels_flag(sample_image_path, tmp_path):
    out = tmp_path / "out"
    code, _, stderr = run_cli("reconstruct", sample_image_path, "-o", out,
                              "--max-pixels", "100000")
    assert code == 1
    assert stderr.strip() == (f"prnet: error: cannot read image {sample_image_path}: image too "
                              "large (512x512 = 262144 pixels, limit 100000)")
    assert not out.exists() or not any(out.iterdir())


def _random_safetensors(path: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    save_file({"weight": torch.randn(4, 4)}, str(path))
    return path


@pytest.mark.parametrize("kind", ["random", "text", "missing"])
def test_wrong_weights(sample_image_path, tmp_path, kind):
    w = tmp_path / "weights.safetensors"
    if kind == "random":
        _random_safetensors(w)
    elif kind == "text":
        w.write_text("these are not weights\n")
    out = tmp_path / "out"
    code, _, stderr = run_cli("reconstruct", sample_image_path, "-o", out, "--weights", w)
    assert code == 1
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.startswith("prnet: error: ")
    assert str(w) in stderr  # the full path, as given
    assert not out.exists()  # nothing done before the model is loaded


def test_results_already_written_are_kept(sample_image_path, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(sample_image_path, src / "x.jpg")
    out = tmp_path / "out"
    assert run_cli("reconstruct", src / "x.jpg", "-o", out, "--kpt")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "x.json" in before
    # the input breaks, and the model cannot load: earlier results stay as they were
    (src / "x.jpg").write_bytes(sample_image_path.read_bytes()[:5000])
    code, _, stderr = run_cli("reconstruct", src / "x.jpg", "-o", out, "--kpt")
    assert code == 1 and "truncated" in stderr
    bad_w = tmp_path / "w.safetensors"
    bad_w.write_text("x")
    assert run_cli("reconstruct", src / "x.jpg", "-o", out, "--weights", bad_w)[0] == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
