"""Hostile inputs to `prnet reconstruct`, `texture`, `swap` and `video`: colliding names,
paths the listing cannot use, non-UTF-8 names, exit codes, leftovers and library chatter.

Every bad input gets one stderr line naming it (never a traceback), the documented exit
code, and the other inputs still get complete outputs; no two inputs share an output name.
The network is the shared test fixture ``prn`` (not reloaded per run); images are small.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import signal
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import prnet.cli.apps as cli_apps
import prnet.cli.reconstruct as cli_reconstruct
from prnet.cli import main
from prnet.cli.stems import name_key, plan_outputs
from prnet.io import read_image
from prnet.io._atomic import atomic_open, remove_stale_temporaries
from prnet.io._quiet import quiet_native_stderr

SIDE = 256  # the sample image at half size: the face is still found, runs are fast


def run_cli(*argv) -> tuple[int, str, str]:
    """``prnet ARGV`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def shared_network(prn, monkeypatch):
    """Every command gets the shared fixture network instead of loading its own."""
    monkeypatch.setattr(cli_reconstruct, "load_prn", lambda args, detector=None: prn)
    monkeypatch.setattr(cli_apps, "load_prn", lambda args, **kw: prn)


@pytest.fixture(scope="module")
def face_rgb(sample_image_path) -> np.ndarray:
    return np.array(Image.open(sample_image_path).convert("RGB").resize((SIDE, SIDE)))


def save(path: Path | bytes, rgb: np.ndarray, fmt: str | None = None) -> Path:
    p = Path(os.fsdecode(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(p, format=fmt or ("JPEG" if p.suffix.lower() in (".jpg", "") else
                                                p.suffix.lstrip(".").upper()))
    return p


def blank() -> np.ndarray:
    return np.full((48, 64, 3), 128, np.uint8)


def one_line_each(stderr: str, names) -> None:
    """No traceback; every line is a prnet message; each name is on exactly one line."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert all(line.startswith("prnet: ") for line in lines), lines
    for n in names:
        hits = [line for line in lines if n in line]
        assert len(hits) == 1, (n, lines)


def outputs_complete(out: Path) -> dict[str, Path]:
    """Every JSON's listed files exist; no two JSONs (inputs) share an output file name,
    compared as a case-insensitive file system would. Returns {image: JSON path}."""
    seen: dict[str, str] = {}
    images = {}
    for js in out.rglob("*.json"):
        rec = json.loads(js.read_text(encoding="utf-8"))
        if "image" not in rec:  # a face's _kpt.json / _pose.json
            continue
        assert rec["image"] not in images, rec["image"]
        images[rec["image"]] = js
        for f in [*rec["files"], js.name]:
            assert (js.parent / f).is_file(), f
            key = name_key(str((js.parent / f).relative_to(out)))
            assert seen.setdefault(key, rec["image"]) == rec["image"], (key, rec["image"])
    return images


def files_in(out: Path) -> int:
    return sum(1 for p in out.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- 1. name collisions


def test_colliding_names_never_share_outputs(face_rgb, tmp_path):
    src = tmp_path / "in"
    save(src / "x.jpg", face_rgb)
    save(src / "x.png", face_rgb)
    save(src / "x_png.jpg", face_rgb)
    save(src / "x_jpg_0_kpt.jpg", blank())  # its JSON: x.jpg's (x_jpg) face-0 landmark JSON
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("reconstruct", src, "-o", out, "--kpt")
    assert code == 0, stderr
    images = outputs_complete(out)
    for image, js in images.items():  # the JSON names its input and, when renamed, its stem
        rec = json.loads(js.read_text(encoding="utf-8"))
        assert rec.get("stem", Path(image).stem) == js.stem
        assert "stem" in rec  # x_jpg, x_png-<hash> (twice), x_jpg_0_kpt-<hash>
    assert sorted(images) == sorted(str(src / n) for n in
                                    ["x.jpg", "x.png", "x_png.jpg", "x_jpg_0_kpt.jpg"])
    # 3 faces × (JSON + TXT) + 4 image JSONs; the summary counts files that exist
    assert files_in(out) == 10 and "10 files" in stdout
    # the same inputs get the same names on the next run: --skip-existing skips them all
    code, stdout, _ = run_cli("reconstruct", src, "-o", out, "--kpt", "--skip-existing")
    assert code == 0 and "4 skipped (done earlier)" in stdout and files_in(out) == 10


def test_stems_do_not_depend_on_order_and_fold_case():
    names = ["a/x.jpg", "a/x.png", "a/x_png.jpg", "a/X.JPG", "b/x.jpg", "B/x.jpg",
             "a/x_0_kpt.jpg", "a/" + "Z" * 250 + ".jpg"]
    images = [Path(n) for n in names]
    plan = dict(zip(images, plan_outputs(images, Path("o")), strict=True))
    for seed in range(3):
        shuffled = images[:]
        random.Random(seed).shuffle(shuffled)
        assert dict(zip(shuffled, plan_outputs(shuffled, Path("o")), strict=True)) == plan
    keys = [name_key(str(folder / stem)) for folder, stem in plan.values()]
    assert len(set(keys)) == len(keys)
    assert all(len(os.fsencode(stem)) <= 201 for _, stem in plan.values())
    # names that collide with nothing keep the plain scheme (what `prnet demo` writes)
    assert plan_outputs([Path("d/astronaut.jpg")], Path("o")) == [(Path("o"), "astronaut")]


# --------------------------------------------------------------------------- 2. listing


def test_paths_the_listing_cannot_use(face_rgb, tmp_path, monkeypatch):
    good = save(tmp_path / "good.jpg", face_rgb)
    long_name = tmp_path / ("Z" * 300 + ".jpg")
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)  # opening it would block forever
    dangling = tmp_path / "dangling.jpg"
    dangling.symlink_to(tmp_path / "gone.jpg")
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    locked = tmp_path / "locked" / "inside.jpg"
    save(locked, blank())
    real_stat = os.stat

    def stat(path, *a, **k):  # we run as root: a folder root can read, made unreadable
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_stat(path, *a, **k)

    monkeypatch.setattr(os, "stat", stat)
    folder = tmp_path / "folder"  # the same kinds found inside a folder
    folder.mkdir()
    os.mkfifo(folder / "fifo.png")
    (folder / "dangling.png").symlink_to(folder / "gone.png")
    out = tmp_path / "out"
    bad = {long_name: "file name too long", fifo: "not a regular file",
           dangling: "broken symbolic link", loop: "symbolic link loop",
           locked: "permission denied", folder / "fifo.png": "not a regular file",
           folder / "dangling.png": "broken symbolic link"}
    code, stdout, stderr = run_cli("reconstruct", good, *list(bad)[:5], folder, "-o", out,
                                   "--kpt")
    assert code == 1
    one_line_each(stderr, [str(p) for p in bad])
    for p, why in bad.items():
        assert f"prnet: error: cannot read image {p}: {why}" in stderr
    assert list(outputs_complete(out)) == [str(good)]
    assert "1 image, 1 face" in stdout and "7 failed" in stdout


def test_non_utf8_file_name(face_rgb, tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"
    save(raw, face_rgb)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("reconstruct", tmp_path, "-o", out, "--kpt")
    assert code == 0, stderr
    assert sorted(os.listdir(os.fsencode(out))) == [b"caf\xe9.json", b"caf\xe9_0_kpt.json",
                                                     b"caf\xe9_0_kpt.txt"]
    text = (out / os.fsdecode(b"caf\xe9.json")).read_text(encoding="utf-8")  # valid UTF-8
    assert 'caf\\udce9.jpg"' in text  # the name as a JSON escape: it reads back exactly
    assert os.fsencode(json.loads(text)["image"]) == raw
    assert "3 files" in stdout


def test_non_utf8_names_print_in_a_real_process(face_rgb, tmp_path):
    """Real stdout/stderr (stdout encodes strictly): names print as \\xNN, nothing crashes."""
    raw_in = os.fsencode(tmp_path) + b"/caf\xe9.jpg"
    save(raw_in, blank())
    raw_out = os.fsencode(tmp_path) + b"/out\xff"
    missing = os.fsencode(tmp_path) + b"/gone\xe9.jpg"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONIOENCODING": "utf-8"}
    res = subprocess.run([sys.executable, "-m", "prnet", "reconstruct", raw_in, missing,
                          "-o", raw_out, "--kpt", "-q"], capture_output=True, env=env,
                         timeout=300, check=False)
    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err
    assert err.splitlines() == [
        f"prnet: error: cannot read image {tmp_path}/gone\\xe9.jpg: file not found",
        f"prnet: warning: no face found in {tmp_path}/caf\\xe9.jpg"]
    assert os.path.isfile(raw_out + b"/caf\xe9.json")


# --------------------------------------------------------------------------- 6. exit codes


def test_texture_missing_input_exits_1(face_rgb, tmp_path):
    good = save(tmp_path / "good.jpg", face_rgb)
    missing = tmp_path / "missing.jpg"
    out = tmp_path / "tex"
    code, _stdout, stderr = run_cli("texture", good, missing, "-o", out, "--size", "32")
    assert code == 1
    one_line_each(stderr, [str(missing)])
    assert f"cannot read image {missing}: file not found" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["good_0_texture.png"]


def test_swap_with_an_empty_mask_is_an_error(face_rgb, tmp_path):
    img = save(tmp_path / "face.png", face_rgb)
    mask = save(tmp_path / "black.png", np.zeros((256, 256, 3), np.uint8))
    out = tmp_path / "swapped.png"
    code, stdout, stderr = run_cli("swap", img, img, "-o", out, "--mode", mask)
    assert code == 1 and stdout == "" and not out.exists()
    one_line_each(stderr, [str(mask)])
    assert "nothing to swap" in stderr and "selects no face texel" in stderr


def test_swap_without_a_face_exits_3(face_rgb, tmp_path):
    img = save(tmp_path / "face.png", face_rgb)
    empty = save(tmp_path / "wall.png", blank())
    out = tmp_path / "swapped.png"
    for source, reference in ((empty, img), (img, empty)):
        code, _stdout, stderr = run_cli("swap", source, reference, "-o", out)
        assert code == 3 and not out.exists()
        one_line_each(stderr, [str(empty)])
        assert f"no face found in {empty}" in stderr
    code, _, stderr = run_cli("swap", tmp_path / "nope.png", img, "-o", out)
    assert code == 1 and "file not found" in stderr and not out.exists()
    one_line_each(stderr, [str(tmp_path / "nope.png")])
    helptext = io.StringIO()
    with contextlib.redirect_stdout(helptext), pytest.raises(SystemExit):
        main(["swap", "--help"])
    assert "3 no face in SOURCE or REFERENCE" in " ".join(helptext.getvalue().split())


def test_video_bad_paths(tmp_path):
    for path, why in ((tmp_path / ("V" * 300 + ".mp4"), "file name too long"),
                      (tmp_path, "is a directory")):
        code, _, stderr = run_cli("video", path, "-o", tmp_path / "out")
        assert code == 1
        one_line_each(stderr, [str(path)])
        assert why in stderr


# --------------------------------------------------------------------------- 7. leftovers


def test_stale_temporaries_are_removed(face_rgb, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = out / ".good_0.obj.4194305.0123abcd.tmp"  # above any pid_max: never alive
    old = out / f".good.json.{os.getppid()}.89abcdef.tmp"  # a live process, but old
    fresh_live = out / f".other.png.{os.getppid()}.fedcba98.tmp"
    others = [out / ".keep.tmp", out / "notes.tmp", out / ".a.b.1.xyz.tmp"]
    for p in [dead, old, fresh_live, *others]:
        p.write_bytes(b"partial")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    good = save(tmp_path / "good.jpg", face_rgb)
    code, _, stderr = run_cli("reconstruct", good, "-o", out, "--kpt")
    assert code == 0, stderr
    assert not dead.exists() and not old.exists()
    assert fresh_live.exists() and all(p.exists() for p in others)
    assert {p.name for p in out.glob(".*.tmp")} == {fresh_live.name, ".keep.tmp", ".a.b.1.xyz.tmp"}
    assert remove_stale_temporaries(tmp_path / "no such folder") == []


def test_sigterm_removes_the_temporary(tmp_path):
    from prnet.cli import _terminate_cleanly

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("SIGTERM already handled by the test runner")
    restore = _terminate_cleanly()
    try:
        with pytest.raises(SystemExit) as exc, atomic_open(tmp_path / "x.bin") as f:
            f.write(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    finally:
        restore()
    assert exc.value.code == 143 and list(tmp_path.iterdir()) == []


def png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_max_pixels_governs_over_pillows_limit(tmp_path):
    wide = png_header_only(tmp_path / "wide.png", 15000, 15000)  # 225 Mpx > Pillow's 179
    code, _, stderr = run_cli("reconstruct", wide, "-o", tmp_path / "out",
                              "--max-pixels", "300000000")
    assert code == 1
    one_line_each(stderr, [str(wide)])
    assert "truncated" in stderr and "too large" not in stderr  # the size was accepted
    bomb = png_header_only(tmp_path / "bomb.png", 20000, 20000)  # 400 Mpx: over the limit
    code, _, stderr = run_cli("reconstruct", bomb, "-o", tmp_path / "out",
                              "--max-pixels", "300000000")
    assert code == 1
    assert "too large (20000x20000 = 400000000 pixels, limit 300000000)" in stderr
    from PIL import Image as PILImage

    assert PILImage.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's own limit is put back


def test_library_warnings_name_the_file(face_rgb, tmp_path, prn, monkeypatch, caplog):
    good = save(tmp_path / "good.jpg", face_rgb)

    def noisy(image, key=None):
        warnings.warn("overflow encountered in multiply", RuntimeWarning, stacklevel=1)
        return prn.reconstruct(image, key=key)

    class Noisy:
        reconstruct = staticmethod(noisy)

    monkeypatch.setattr(cli_reconstruct, "load_prn", lambda args, detector=None: Noisy())
    with caplog.at_level(logging.DEBUG, logger="prnet.warnings"):
        code, _, stderr = run_cli("reconstruct", good, "-o", tmp_path / "out", "--kpt")
    assert code == 0 and stderr == ""
    assert any(str(good) in r.getMessage() and "overflow" in r.getMessage()
               for r in caplog.records)


def test_native_stderr_chatter_is_captured(capfd, caplog):
    with caplog.at_level(logging.DEBUG, logger="prnet.warnings"), \
            quiet_native_stderr("x.png") as lines:
        os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")
    assert lines == ["libpng warning: iCCP: known incorrect sRGB profile"]
    assert capfd.readouterr().err == ""
    assert any("x.png: libpng warning" in r.getMessage() for r in caplog.records)


def test_sixteen_bit_png_reads_quietly(face_rgb, tmp_path, capfd):
    import cv2

    p = tmp_path / "deep.png"
    cv2.imwrite(str(p), face_rgb[..., ::-1].astype(np.uint16) * 257)
    assert read_image(p).shape == (SIDE, SIDE, 3)
    assert capfd.readouterr().err == ""
