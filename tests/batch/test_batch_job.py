"""`prnet batch` with the local engine: rows, bad inputs, 1 vs 2 workers, --dense, --outputs,
a changed command refused, and a job killed with SIGKILL then finished by the same command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow", reason="prnet batch needs pyarrow (pip install prnet[batch])")

from batch_data import EXPECTED, MAX_PIXELS, assert_same_rows

from prnet.batch import BatchJob, decode_posmap, read_dataset, run_batch
from prnet.cli import main
from prnet.outputs import ExportOptions
from prnet.pipeline import ModelOptions

CPU = ModelOptions(device="cpu")
def _job(inputs, out, **kw) -> BatchJob:
    return BatchJob(inputs=[str(i) for i in inputs], out_dir=str(out), max_pixels=MAX_PIXELS,
                    progress=False, **kw)


@pytest.fixture(scope="module")
def one_worker(batch_images, prn, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    summary = run_batch(_job([batch_images], out, workers=1), CPU, prn)
    return out, summary


def test_rows_one_per_face_or_image(one_worker, batch_images, prn):
    out, summary = one_worker
    t = read_dataset(out)
    by_path = {}
    for r in t.to_pylist():
        by_path.setdefault(r["path"], []).append(r)
    assert set(by_path) == {str(batch_images / n) for n in EXPECTED}
    for name, status in EXPECTED.items():
        rows = by_path[str(batch_images / name)]
        assert [r["status"] for r in rows] == [status] * len(rows), name
        if status == "ok":
            assert [r["face_index"] for r in rows] == list(range(len(rows)))
            assert all(r["faces"] == len(rows) and r["error"] is None for r in rows)
        else:
            assert len(rows) == 1 and rows[0]["face_index"] == -1 and rows[0]["faces"] == 0
    errors = {n: by_path[str(batch_images / n)][0]["error"] for n, s in EXPECTED.items()
              if s == "failed"}
    assert "empty file" in errors["empty.jpg"]
    assert "truncated" in errors["truncated.jpg"] or "corrupt" in errors["truncated.jpg"]
    assert "too large" in errors["big.png"]
    assert all("\n" not in e and str(batch_images) in e for e in errors.values())
    blank = by_path[str(batch_images / "blank.png")][0]
    assert (blank["width"], blank["height"]) == (160, 120)

    # the face values are those of the library's own record of the face
    (face,) = prn.reconstruct(batch_images / "a.jpg")
    row = by_path[str(batch_images / "a.jpg")][0]
    rec = face.to_dict()
    np.testing.assert_allclose(row["landmarks"], rec["landmarks"], atol=1e-3)
    np.testing.assert_allclose(row["box"], rec["box"], atol=1e-3)
    assert row["landmark_visibility"] == rec["landmark_visibility"]
    np.testing.assert_allclose(row["camera_matrix"], rec["pose"]["camera_matrix"], atol=1e-6)
    assert (row["width"], row["height"]) == (512, 512)
    # a mirrored face turns the other way
    flip = by_path[str(batch_images / "a_flip.jpg")][0]
    assert abs(flip["yaw"] + row["yaw"]) < 3 and abs(flip["roll"] + row["roll"]) < 3
    assert flip["box"][0] == pytest.approx(512 - row["box"][2], abs=3)

    counts = {s: list(EXPECTED.values()).count(s) for s in ("ok", "no_face", "failed")}
    assert summary["images"] == len(EXPECTED) and summary["rows"] == t.num_rows
    assert (summary["faces"], summary["no_face"], summary["failed"]) == \
        (counts["ok"], counts["no_face"], counts["failed"])
    assert json.loads((out / "_summary.json").read_text())["images"] == len(EXPECTED)
    assert summary["engine"] == "local" and summary["this_run"]["images"] == len(EXPECTED)


def test_two_workers_same_rows(one_worker, batch_images, prn, tmp_path):
    out = tmp_path / "two"
    summary = run_batch(_job([batch_images], out, workers=2, threads=1, chunk_size=2), CPU, prn)
    assert summary["workers"] == 2
    assert_same_rows(read_dataset(one_worker[0]), read_dataset(out))


def test_rerun_is_a_no_op_and_changed_command_refused(one_worker, batch_images, capsys):
    out, _ = one_worker
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    args = ["batch", str(batch_images), "-o", str(out), "--device", "cpu",
            "--max-pixels", str(MAX_PIXELS)]
    assert main(args + ["-q"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == before
    assert json.loads((out / "_summary.json").read_text())["this_run"]["images"] == 0
    capsys.readouterr()
    for extra in (["--dense", "posmap"], ["--tta"], ["--outputs", "obj"]):
        assert main(args + extra) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "was written with other options" in err[0], err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == before


def test_dense_posmap_and_outputs(batch_images, prn, tmp_path):
    out = tmp_path / "dense"
    job = _job([batch_images / "a.jpg", batch_images / "blank.png"], out, dense="posmap",
               outputs=ExportOptions.from_names(["obj", "kpt"]))
    run_batch(job, CPU, prn)
    rows = {r["path"]: r for r in read_dataset(out).to_pylist()}
    face = rows[str(batch_images / "a.jpg")]
    posmap = decode_posmap(face["posmap"])
    assert posmap.shape == (256, 256, 3)
    # the landmarks are read from the position map (float16 here: within 0.25 px at 512 px)
    np.testing.assert_allclose(prn.layout.landmarks(posmap), face["landmarks"], atol=0.3)
    assert rows[str(batch_images / "blank.png")]["posmap"] is None
    assert {".obj", ".txt"} <= {Path(f).suffix for f in face["files"]}
    assert all(f.startswith("_files/part-00000/") and (out / f).is_file() for f in face["files"])
    assert rows[str(batch_images / "blank.png")]["files"] is None


def test_output_folder_inside_the_input_folder(batch_images, prn, tmp_path):
    """--outputs images written under OUT, inside the input folder, are never inputs."""
    import shutil

    shutil.copy(batch_images / "a.jpg", tmp_path / "a.jpg")
    out = tmp_path / "out"
    job = _job([tmp_path], out, outputs=ExportOptions.from_names(["viz", "texture"]))
    run_batch(job, CPU, prn)
    (row,) = read_dataset(out).to_pylist()
    assert any(f.endswith((".png", ".jpg")) for f in row["files"])
    assert run_batch(job, CPU, prn)["this_run"]["images"] == 0
    assert read_dataset(out).num_rows == 1


def test_dense_vertices(batch_images, prn, tmp_path):
    out = tmp_path / "vertices"
    run_batch(_job([batch_images / "a.jpg"], out, dense="vertices"), CPU, prn)
    (row,) = read_dataset(out).to_pylist()
    v = np.asarray(row["vertices"], np.float32)
    (face,) = prn.reconstruct(batch_images / "a.jpg")
    np.testing.assert_allclose(v, face.vertices, atol=1e-4)


def test_list_inputs_txt_csv_parquet(batch_images, prn, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["a.jpg", "blank.png", "missing.jpg"]
    (tmp_path / "list.txt").write_text("# images\n" + "\n".join(
        str(batch_images / n) for n in names) + "\n")
    (tmp_path / "list.csv").write_text("id,file\n" + "".join(
        f"{i},{batch_images / n}\n" for i, n in enumerate(names)))
    pq.write_table(pa.table({"path": [str(batch_images / n) for n in names]}),
                   tmp_path / "list.parquet")
    results = []
    for lst, column in (("list.txt", "path"), ("list.csv", "file"), ("list.parquet", "path")):
        out = tmp_path / f"out_{lst}"
        run_batch(_job([tmp_path / lst], out, column=column), CPU, prn)
        rows = {r["path"]: r["status"] for r in read_dataset(out).to_pylist()}
        assert rows == {str(batch_images / "a.jpg"): "ok", str(batch_images / "blank.png"):
                        "no_face", str(batch_images / "missing.jpg"): "failed"}
        results.append(read_dataset(out))
    assert_same_rows(results[0], results[1], atol=0)
    code = main(["batch", str(tmp_path / "list.csv"), "-o", str(tmp_path / "x"), "-q"])
    assert code == 1  # no column "path" in the CSV: one line naming --column


def test_kill_9_then_rerun_finishes_every_image_once(many_images, prn, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "prnet", "--threads", "1", "batch", str(many_images), "-o",
           str(out), "--device", "cpu", "--shard-rows", "2", "--chunk", "1", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    manifest = out / "_manifest.jsonl"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if manifest.exists() and manifest.read_text().count("\n") >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the job ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done_before = manifest.read_text().count("\n")
    assert 2 <= done_before < 13  # 26 images in shards of 2: killed mid-run

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    table = read_dataset(out)
    paths = table.column("path").to_pylist()
    images = sorted(str(p) for p in many_images.iterdir())
    assert sorted(paths) == images  # one face per image: every image exactly once
    statuses = dict(zip(paths, table.column("status").to_pylist(), strict=True))
    assert statuses[str(many_images / "empty.jpg")] == "failed"
    assert statuses[str(many_images / "truncated.jpg")] == "failed"
    assert sum(s == "ok" for s in statuses.values()) == 24
    shards = sorted(p.name for p in out.glob("part-*.parquet"))
    assert len(shards) == 13 and not list(out.glob(".*.tmp"))
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["images"] == 26 and summary["this_run"]["images"] == 26 - 2 * done_before

    # the same rows as an uninterrupted run on the CLI's backends (auto: onnxruntime for the
    # network and the detector where it is installed; torch's boxes differ by float noise)
    from prnet import PRN

    fresh = tmp_path / "fresh"
    run_batch(_job([many_images], fresh, shard_rows=2, chunk_size=1), CPU, PRN(device="cpu"))
    assert_same_rows(read_dataset(fresh), table)
