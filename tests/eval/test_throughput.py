"""`prnet bench --throughput` (the device path's benchmark) runs on the CPU with tiny sizes:
every field is there and positive (figures are reported, never asserted), the end-to-end rows
are the NumPy pipeline's faces, and scripts/gpu_bench.sh rehearses on the CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from prnet.errors import PRNetError
from prnet.eval.throughput import (
    bench_end_to_end,
    bench_throughput,
    format_throughput,
    make_jpeg_folder,
)

REPO = Path(__file__).resolve().parents[2]


def check_result(r: dict, workers: tuple[int, ...]) -> None:
    rows = r["network"]
    assert {(x["mode"], x["batch"], x["channels_last"]) for x in rows} == {
        ("eager", b, cl) for b in (1, 2) for cl in (True, False)}
    for x in rows:
        assert "error" not in x and x["ms_per_batch"] > 0 and x["img_per_s"] > 0
    assert r["network_best"]["img_per_s"] > 0 and r["latency_b1"]["batch"] == 1
    dp = r["device_post"]
    assert dp["torch_ms_per_face"] > 0 and dp["numpy_ms_per_face"] > 0 and dp["numpy_over_torch"] > 0
    e2e = r["end_to_end"]
    assert [(x["workers"], x["detect"]) for x in e2e] == [
        (w, d) for w in workers for d in ("blazeface", "boxes")]
    for x in e2e:
        assert x["decoder"] == "cpu" and x["images"] == x["faces"] == 4
        assert x["faces_per_s"] > 0 and x["seconds"] > 0 and x["worker_decode_s"] > 0
    assert e2e[0]["check"]["landmarks_max_px"] < 0.05 and e2e[0]["check"]["angles_max_deg"] < 0.01
    assert r["end_to_end_best"]["faces_per_s"] > 0
    assert r["hardware"]["device"] == "cpu" and r["precision"] == "fp32"


def test_bench_throughput_on_cpu() -> None:
    r = bench_throughput("cpu", batches=(1, 2), seconds=0.2, n_images=4, workers=(1, 2),
                         e2e_batch=2)
    check_result(r, (1, 2))
    text = format_throughput(r)
    assert "img/s" in text and "faces/s" in text and "batch-1 latency" in text
    assert r["nvjpeg"] == ("no CUDA device" if not torch.cuda.is_available() else r["nvjpeg"])


def test_end_to_end_rows_are_the_pipelines_faces(prn, tmp_path) -> None:
    files = make_jpeg_folder(tmp_path, 3)
    r = bench_end_to_end(prn, files, workers=2, batch=2, job=1)
    assert r["images"] == r["faces"] == len(r["rows"]) == 3 and r["implausible"] == 0
    ref = prn.reconstruct(files[0])[0]
    for row, f in zip(r["rows"], files, strict=True):
        assert row["image"] == f.name and row["finite"] and row["plausible"]
        np.testing.assert_allclose(row["landmarks"], ref.landmarks, atol=0.05)
        assert row["yaw"] == pytest.approx(ref.pose.yaw, abs=0.01)
        np.testing.assert_allclose(row["box"], ref.box, atol=0.01)
    with pytest.raises(PRNetError, match="precomputed boxes"):
        bench_end_to_end(prn, files, decoder="nvjpeg")
    with pytest.raises(PRNetError, match="no image files"):
        bench_end_to_end(prn, [])


def test_end_to_end_image_without_face(prn, tmp_path) -> None:
    from prnet.io import write_image

    files = make_jpeg_folder(tmp_path, 2)
    write_image(tmp_path / "blank.jpg", np.full((64, 64, 3), 128, np.uint8))
    r = bench_end_to_end(prn, [files[0], tmp_path / "blank.jpg", files[1]], batch=1, job=1)
    assert r["images"] == 3 and r["faces"] == 2
    assert [row["image"] for row in r["rows"]] == [files[0].name, files[1].name]


def test_cli_throughput_flags(tmp_path, capsys) -> None:
    from prnet.cli import main

    assert main(["bench", "--throughput", "--workers", "0"]) == 1
    assert "expected positive numbers" in capsys.readouterr().err
    assert main(["bench", "--throughput", "--tta"]) == 1
    assert "without test-time augmentation (got backend torch, tta flip)" in capsys.readouterr().err
    assert main(["bench", "--throughput", "--batches", "1", "--seconds", "0.01",
                 "--folder", str(tmp_path)]) == 1
    assert f"no image found in {tmp_path}" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_bench_script_dry_run(tmp_path) -> None:
    """scripts/gpu_bench.sh --dry-run: the GPU command rehearsed on the CPU, tiny sizes."""
    env = dict(os.environ, OUT=str(tmp_path))
    res = subprocess.run(["bash", "scripts/gpu_bench.sh", "--dry-run"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads((tmp_path / "bench_cpu.json").read_text())
    check_result(r, (1, 2))
    text = (tmp_path / "bench_cpu.txt").read_text()
    assert text.startswith(format_throughput(r))
    assert (tmp_path / "env.txt").read_text().strip()
    assert "test_device_cuda.py" in (tmp_path / "test_device_cuda.txt").read_text()
