"""`prnet reconstruct` with bad boxes, broken weights and bad sizes: one line on stderr naming
the image or file (never a traceback), exit 1, no file at all for a failed image, and the
other images still complete."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from prnet.cli import main
from prnet.models.weights import BUNDLED, DEFAULT_MODEL

BOX = [177.3, 80.2, 271.7, 174.6]  # the astronaut's face (512 x 512)
NAN, INF = float("nan"), float("inf")
# image stem → (its boxes, words of its one stderr line)
BAD_BOXES = {
    "huge": ([[0, 0, 1e9, 1e9]], "too large"),
    "outside": ([[1e4, 1e4, 1e4 + 60, 1e4 + 60]], "entirely outside"),
    "inverted": ([[271.7, 174.6, 177.3, 80.2]], "not ordered"),
    "nan": ([[NAN, 80.2, 271.7, 174.6]], "not finite"),
    "inf": ([[177.3, 80.2, INF, 174.6]], "not finite"),
    "zero_size": ([[200, 100, 200, 100]], "degenerate"),
    "second_bad": ([BOX, [10, 10, 11, 11]], "box 1"),
}


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def files_of(out: Path, stem: str) -> list[Path]:
    return sorted(out.glob(f"{stem}.*")) + sorted(out.glob(f"{stem}_*"))


def assert_one_line_errors(stderr: str, count: int) -> list[str]:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == count and all(line.startswith("prnet: error: ") for line in lines), lines
    return lines


@pytest.fixture(scope="module")
def box_run(tmp_path_factory, sample_image_path):
    """One run over a good image and one image per kind of bad box."""
    root = tmp_path_factory.mktemp("boxes")
    src = root / "in"
    src.mkdir()
    boxes = {"good.jpg": [BOX], "partly_outside.jpg": [[-40, -30, 60, 70]]}
    for stem, (bxs, _) in BAD_BOXES.items():
        boxes[f"{stem}.jpg"] = bxs
    for name in boxes:
        shutil.copy(sample_image_path, src / name)
    (src / "boxes.json").write_text(json.dumps(boxes))  # NaN / Infinity as JSON allows them
    out = root / "out"
    code, stdout, stderr = run_cli("reconstruct", src, "-o", out, "--boxes", src / "boxes.json",
                                   "--obj", "--kpt", "--pose", "-q")
    return code, stdout, stderr, src, out


def test_bad_boxes_fail_their_image_only(box_run):
    code, _, stderr, _, out = box_run
    assert code == 1
    assert_one_line_errors(stderr, len(BAD_BOXES))
    assert files_of(out, "good") and (out / "good_0.obj").is_file()
    assert (out / "partly_outside_0.obj").is_file()  # partly outside: kept, cropped with borders


@pytest.mark.parametrize("stem", sorted(BAD_BOXES))
def test_bad_box_one_line_naming_the_image_and_nothing_written(box_run, stem):
    _, _, stderr, src, out = box_run
    lines = [line for line in stderr.splitlines() if f"{stem}.jpg" in line]
    assert len(lines) == 1, stderr
    assert str(src / f"{stem}.jpg") in lines[0] and BAD_BOXES[stem][1] in lines[0]
    assert files_of(out, stem) == []


@pytest.mark.parametrize("value, words", [
    ('[[1, 2, "a", 4]]', "not numbers"),
    ('[["177", "80", "271", "174"]]', "not numbers"),
    ("[[1, 2, null, 4]]", "not numbers"),
    ('"a box"', "not numbers"),
    ("[[1, 2, 3]]", "expected a list of"),
])
def test_non_numeric_boxes_file_is_one_line_naming_file_and_key(tmp_path, sample_image_path,
                                                                value, words):
    shutil.copy(sample_image_path, tmp_path / "face.jpg")
    boxes = tmp_path / "boxes.json"
    boxes.write_text('{"face.jpg": ' + value + "}")
    code, _, stderr = run_cli("reconstruct", tmp_path / "face.jpg", "-o", tmp_path / "out",
                              "--boxes", boxes)
    assert code == 1
    (line,) = assert_one_line_errors(stderr, 1)
    assert str(boxes) in line and "'face.jpg'" in line and words in line
    assert not (tmp_path / "out").exists()


def _weights(tmp_path: Path, name: str, change) -> Path:
    sd = load_file(str(BUNDLED[DEFAULT_MODEL].path))
    path = tmp_path / f"{name}.safetensors"
    save_file({k: change(k, v) for k, v in sd.items()}, str(path),
              metadata={"model": DEFAULT_MODEL, "format": "prnet-1"})
    return path


@pytest.mark.parametrize("name, change, words", [
    ("nan", lambda k, v: v.clone().fill_(NAN) if v.ndim == 4 else v, "NaN"),
    ("int8", lambda k, v: v.to(torch.int8) if v.is_floating_point() else v, "int8"),
])
def test_unusable_weights_fail_at_load_and_write_nothing(tmp_path, sample_image_path, name,
                                                         change, words):
    path = _weights(tmp_path, name, change)
    code, _, stderr = run_cli("reconstruct", sample_image_path, "-o", tmp_path / "out",
                              "--weights", path, "--all")
    assert code == 1
    (line,) = assert_one_line_errors(stderr, 1)
    assert str(path) in line and words in line
    assert not (tmp_path / "out").exists()


def test_collapsed_face_fails_the_image_and_writes_nothing(tmp_path, sample_image_path):
    path = _weights(tmp_path, "zero", lambda k, v: torch.zeros_like(v))
    code, stdout, stderr = run_cli("reconstruct", sample_image_path, "-o", tmp_path / "out",
                                   "--weights", path, "--all")
    assert code == 1
    (line,) = assert_one_line_errors(stderr, 1)
    assert str(sample_image_path) in line and "collapsed" in line
    assert "1 failed" in stdout
    out = tmp_path / "out"
    assert not out.exists() or not any(out.rglob("*"))


@pytest.mark.parametrize("argv, words", [
    (["--texture-size", "0"], "texture_size must lie in [16, 4096]"),
    (["--texture-size", "5000"], "texture_size must lie in [16, 4096]"),
    (["--weights", "/no/such/weights.safetensors"], "/no/such/weights.safetensors"),
])
def test_bad_options_one_line(tmp_path, sample_image_path, argv, words):
    code, _, stderr = run_cli("reconstruct", sample_image_path, "-o", tmp_path / "out", *argv)
    assert code == 1
    (line,) = assert_one_line_errors(stderr, 1)
    assert words in line
    assert not (tmp_path / "out").exists()
