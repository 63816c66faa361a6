"""`prnet bench --phone` on a tiny configuration (times and memory reported, never asserted),
and `prnet reconstruct` on a large JPEG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prnet.errors import PRNetError
from prnet.eval.phone import bench_phone, format_phone, make_phone_photo

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")


def test_make_phone_photo(tmp_path) -> None:
    w, h = make_phone_photo(tmp_path / "p.jpg", 2, faces=2)
    assert (w, h) == Image.open(tmp_path / "p.jpg").size
    assert abs(w * h - 2e6) < 2e4 and Image.open(tmp_path / "p.jpg").format == "JPEG"
    with pytest.raises(PRNetError):
        make_phone_photo(tmp_path / "q.jpg", 0)
    with pytest.raises(PRNetError):
        bench_phone([2], repeats=0)


def test_bench_phone_cli_json(tmp_path) -> None:
    out = tmp_path / "phone.json"
    res = subprocess.run(
        [sys.executable, "-m", "prnet", "--threads", "1", "bench", "--phone", "--phone-sizes", "2",
         "--phone-groups", "1600x778", "--json", str(out)], cwd=tmp_path, env=_env(),
        capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads(out.read_text())["phone"]
    assert "ru_maxrss" in r["method"] and r["threads"] == 1
    cases, group = r["cases"][:2], r["cases"][2:]
    assert [c["outputs"] for c in r["cases"]] == ["kpt", "all", "kpt", "all"]
    assert [(c["kind"], c["width"], c["height"]) for c in group] == [("group", 1600, 778)] * 2
    assert group[1]["ratio"] > 0 and group[1]["bytes_written"] > group[0]["bytes_written"]
    for c in cases:
        assert c["kind"] == "close-up"
        assert set(c) >= {"megapixels", "width", "height", "faces", "outputs",
                          "seconds_per_image", "peak_rss_mb", "ratio", "exit_status",
                          "bytes_written", "files_written", "cpu_seconds_per_image",
                          "cpu_ratio"}
        assert round(c["megapixels"]) == 2 and c["seconds_per_image"] > 0 and c["peak_rss_mb"] > 0
        assert c["exit_status"] == 0
    assert cases[0]["ratio"] == 1.0 and cases[1]["ratio"] > 0
    assert cases[0]["cpu_ratio"] == 1.0 and all(c["cpu_seconds_per_image"] > 0 for c in cases)
    kpt, every = cases  # --kpt: <stem>.json and per face _kpt.txt/.json; --all: far more
    assert kpt["files_written"] == 1 + 2 * kpt["faces"]
    assert every["files_written"] > kpt["files_written"]
    assert every["bytes_written"] > kpt["bytes_written"] > 0
    assert res.stdout.startswith(format_phone(r))


def test_reconstruct_cli_large_jpeg(tmp_path) -> None:
    """The 68 landmarks written for a 12-MP photo match the full decode's."""
    photo = tmp_path / "big.jpg"
    make_phone_photo(photo, 12, faces=1)
    res = subprocess.run(
        [sys.executable, "-m", "prnet", "reconstruct", str(photo), "--kpt", "--npz", "-q",
         "-o", str(tmp_path / "out")], env=_env(), capture_output=True, text=True,
        timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    rec = json.loads((tmp_path / "out" / "big.json").read_text())
    assert (rec["height"], rec["width"]) == (3000, 4000)
    got = np.loadtxt(tmp_path / "out" / "big_0_kpt.txt")
    from prnet import PRN
    from prnet.io import read_image

    ref = PRN(device="cpu").reconstruct(read_image(photo), key=photo)[0].landmarks
    assert np.median(np.linalg.norm(got[:, :2] - ref[:, :2], axis=1)) < 0.5


def test_group_photo_has_three_faces_of_group_size(tmp_path, prn) -> None:
    from prnet.eval.phone import make_group_photo
    from prnet.io import read_image

    assert make_group_photo(tmp_path / "g.jpg", (2400, 1166)) == (2400, 1166)
    faces = prn.detect(read_image(tmp_path / "g.jpg"))
    assert len(faces) == 3
    widths = [d.box[2] - d.box[0] for d in faces]
    assert all(100 < w < 200 for w in widths)  # group-photo faces, not close-ups
    with pytest.raises(PRNetError):
        make_group_photo(tmp_path / "x.jpg", (10, 10))


def test_bad_group_size_is_one_line(capsys) -> None:
    from prnet.cli import main

    assert main(["bench", "--phone", "--phone-groups", "8000"]) != 0
    err = capsys.readouterr().err
    assert "--phone-groups '8000': expected WIDTHxHEIGHT" in err and "Traceback" not in err
