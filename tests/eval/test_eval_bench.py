"""`prnet bench` and prnet.eval.bench with tiny repeats (times are reported, never asserted)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from prnet.errors import PRNetError
from prnet.eval.bench import (
    PIPELINE_STAGES,
    bench_cuda_graph,
    bench_pipeline,
    hardware_info,
    run_bench,
)

REPO = Path(__file__).resolve().parents[2]


def test_bench_pipeline_no_face(prn) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, format="PNG")
    with pytest.raises(PRNetError, match="no face"):
        bench_pipeline(prn, buf.getvalue(), repeats=1)
    with pytest.raises(PRNetError, match="repeats"):
        bench_pipeline(prn, buf.getvalue(), repeats=0)


@pytest.mark.parametrize("tta", ["off", "shift"])
def test_bench_pipeline_times_what_reconstruct_runs(prn, sample_image_path, tmp_path, monkeypatch,
                                                     tta) -> None:
    """The timed stages produce the landmarks `reconstruct` gives, TTA included."""
    monkeypatch.setattr(prn, "tta", tta)
    r = bench_pipeline(prn, sample_image_path.read_bytes(), repeats=1, out_dir=tmp_path)
    assert r["faces"] == 1 and set(r["stages_ms_per_face"]) == set(PIPELINE_STAGES)
    (face,) = prn.reconstruct(sample_image_path)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "face1_0_kpt.txt"), face.landmarks, atol=2e-3)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_bench_without_cuda(capsys) -> None:
    from prnet.cli import main

    assert "error" in bench_cuda_graph(device="cuda")
    assert hardware_info("cpu")["gpu_name"] is None
    with pytest.raises(PRNetError, match="CUDA is not available"):
        run_bench("cuda")
    assert main(["bench", "--device", "cuda"]) == 1
    assert "CUDA is not available" in capsys.readouterr().err


def test_bench_cli_errors(tmp_path, capsys) -> None:
    from prnet.cli import main

    assert main(["bench", "--repeats", "0"]) == 1
    assert "--repeats" in capsys.readouterr().err
    assert main(["bench", "--image", str(tmp_path / "missing.jpg")]) == 1
    assert "benchmark image not found" in capsys.readouterr().err


def test_bench_baseline_teacher(tmp_path, capsys) -> None:
    """--baseline teacher: the 3DDFA_V2 network timed in the same run (random weights, no
    ../shared needed); figures printed, never asserted beyond being there."""
    from prnet.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "--repeats", "1", "--seconds", "0.01", "--batches", "1", "--dtypes",
                 "fp32", "--baseline", "teacher", "--video-frames", "0", "--json", str(out)]) == 0
    assert "Baseline teacher (120x120 input" in capsys.readouterr().out
    b = json.loads(out.read_text())["baselines"]["teacher"]
    assert b["input_size"] == 120 and b["network_ms_b1"] > 0 and b["ours_over_baseline"] > 0
    assert b["e2e_ms_per_face_swapped"] > 0


def test_bench_realtime_fields_per_backend(tmp_path, capsys) -> None:
    """The real-time fields (end to end, landmarks+pose, network batch 1, detection, video fps)
    per backend: torch, and onnxruntime when it is importable; the older top-level fields stay."""
    from prnet.cli import main
    from prnet.pipeline.onnx_backend import onnxruntime_available

    out = tmp_path / "bench.json"
    assert main(["--threads", "1", "bench", "--device", "cpu", "--backend", "torch", "--repeats",
                 "1", "--seconds", "0.01", "--batches", "1", "--dtypes", "fp32",
                 "--video-frames", "4", "--json", str(out)]) == 0
    assert "Per backend" in capsys.readouterr().out
    r = json.loads(out.read_text())
    from prnet.models.weights import is_bundled

    want = ["torch"] + (["onnxruntime"] if onnxruntime_available() else [])
    want += [f"{b}+fast" for b in want] if is_bundled("fast") else []  # the fast network too
    want += ["onnxruntime+fast+int8"] if "onnxruntime+fast" in want else []  # and at int8
    assert list(r["backends"]) == want
    keys = ("e2e_ms_per_face", "landmarks_pose_ms_per_face", "dense_ms_per_face",
            "network_ms_b1", "detect_ms", "video_fps_640x480", "video_mesh_fps_640x480")
    for b in want:
        assert all(r["backends"][b][k] > 0 for k in keys), (b, r["backends"][b])
        v = r["backends"][b]["video"]
        assert (v["frames"], v["width"], v["height"], v["faces"]) == (4, 640, 480, 4)
        assert v["detector_calls"] >= 1
        assert r["backends"][b]["video_mesh"]["frames"] == 4
    # the pipeline's own backend is also reported at the top level, as before
    assert r["backend"] == "torch" and all(r[k] > 0 for k in keys)
    assert r["landmarks_pose_ms_per_face"] == r["backends"]["torch"]["landmarks_pose_ms_per_face"]
    assert r["backends"]["torch"]["rounds"] == 1
    assert r["stages_ms_per_face"] and r["throughput"] and r["network_ms_b1_torch"] > 0


def test_bench_writers_times_every_output_with_and_without_fsync(prn, sample_image_path,
                                                                 tmp_path, monkeypatch) -> None:
    """Each standalone output is written (the files exist) and timed both ways; fsync is
    called only in the fsync round, and the setting is put back afterwards."""
    import os

    from prnet.eval.bench_writers import bench_writers
    from prnet.io._atomic import FSYNC_ENV
    from prnet.outputs.registry import registered

    monkeypatch.setenv(FSYNC_ENV, "yes")
    calls: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(os.environ[FSYNC_ENV]),
                                                 real_fsync(fd)))
    (face,) = prn.reconstruct(sample_image_path)
    r = bench_writers(face, repeats=1, folder=tmp_path)
    names = [o.name for o in registered() if not o.modifier]
    assert list(r) == ["fsync", "no_fsync"]
    assert all(list(r[k]) == names and min(r[k].values()) > 0 for k in r)
    assert calls and set(calls) <= {"yes", "1"}  # the warm-up (caller's setting) and the fsync round
    assert os.environ[FSYNC_ENV] == "yes"
    assert {p.name for p in tmp_path.glob("no_fsync0_0.*")} >= {"no_fsync0_0.obj", "no_fsync0_0.glb"}
    with pytest.raises(PRNetError, match="unknown output"):
        bench_writers(face, names=["obj", "stl"])
    with pytest.raises(PRNetError, match="repeats"):
        bench_writers(face, repeats=0)


def test_bench_reports_writers(tmp_path, capsys) -> None:
    from prnet.cli import main

    out = tmp_path / "bench.json"
    assert main(["--threads", "1", "bench", "--device", "cpu", "--backend", "torch", "--repeats",
                 "1", "--seconds", "0.01", "--batches", "1", "--dtypes", "fp32",
                 "--video-frames", "0", "--json", str(out)]) == 0
    assert "Writing one face's output" in capsys.readouterr().out
    w = json.loads(out.read_text())["writers_ms_per_face"]
    assert w["fsync"]["obj"] > 0 and w["no_fsync"]["ply"] > 0
