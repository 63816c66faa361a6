"""The shard writer and manifest of `prnet batch` (no model): atomic shards, retried writes,
what a crash leaves behind cleaned on resume, rows routed to shards in any order; and the
per-image failure of a merged network batch."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="prnet batch needs pyarrow (pip install prnet[batch])")

from prnet.batch.process import Decoded, RowSettings, decode, image_rows
from prnet.batch.rows import failed_row, no_face_row, row_schema, rows_table
from prnet.batch.shards import MANIFEST, BatchOutput, ShardRouter, plan_shards, read_dataset
from prnet.errors import PRNetError

CONFIG = {"model": {"tta": "off"}, "dense": None}


def _table(paths, faces=None):
    rows = []
    for i, p in enumerate(paths):
        n = 0 if faces is None else faces[i]
        if n:
            rows += [{**no_face_row(p, (10, 20)), "status": "ok", "faces": n, "face_index": j}
                     for j in range(n)]
        else:
            rows.append(no_face_row(p, (10, 20)))
    return rows_table(rows, row_schema())


def test_router_commits_a_shard_when_all_its_images_are_complete(tmp_path):
    out = BatchOutput(tmp_path / "o", CONFIG)
    shards = plan_shards(["a", "b", "c", "d", "e"], out.next_shard, 2)
    assert shards == {0: ["a", "b"], 1: ["c", "d"], 2: ["e"]}
    router = ShardRouter(out, shards, row_schema())
    t = _table(["c", "a", "b"], faces=[2, 0, 1])
    router.add(t.slice(0, 1))  # c: first of its 2 faces
    router.add(t.slice(2, 2))  # a, b: shard 0 complete
    assert router.committed == [0] and router.pending == [1, 2]
    router.add(t.slice(1, 1))  # c's second face
    router.add(_table(["e", "d"]))
    assert router.committed == [0, 2, 1] and router.pending == []
    table = read_dataset(tmp_path / "o")
    assert sorted(table.column("path").to_pylist()) == ["a", "b", "c", "c", "d", "e"]
    with pytest.raises(PRNetError, match="no open shard"):
        router.add(_table(["a"]))  # a row for a finished shard: never written twice


def test_resume_removes_what_a_crash_left(tmp_path):
    folder = tmp_path / "o"
    out = BatchOutput(folder, CONFIG)
    out.commit(0, _table(["a", "b"]), ["a", "b"])
    out.commit(1, _table(["c"]), ["c"])
    # a shard renamed but killed before its manifest line; a torn line; a temporary; files
    (folder / "part-00002.parquet").write_bytes(b"PAR1 half")
    with open(folder / MANIFEST, "a") as f:
        f.write('{"shard": "part-00002.parquet", "pa')
    (folder / ".part-00003.parquet.999999.0123abcd.tmp").write_bytes(b"x")
    (folder / "_files" / "part-00002").mkdir(parents=True)
    (folder / "_files" / "part-00001").mkdir(parents=True)
    again = BatchOutput(folder, CONFIG)
    assert again.done_paths == {"a", "b", "c"} and again.next_shard == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "_config.json", "_files", MANIFEST, "part-00000.parquet", "part-00001.parquet"]
    assert [p.name for p in (folder / "_files").iterdir()] == ["part-00001"]
    lines = (folder / MANIFEST).read_text().splitlines()
    assert [json.loads(x)["shard"] for x in lines] == ["part-00000.parquet", "part-00001.parquet"]
    assert again.totals()["images"] == 3
    with pytest.raises(PRNetError, match="other options"):
        BatchOutput(folder, {**CONFIG, "dense": "posmap"})


def test_shard_write_is_retried_and_never_half_written(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    real = pq.write_table
    calls = []

    def flaky(table, where, **kw):
        calls.append(1)
        if len(calls) == 1:
            where.write(b"PAR1 partial")
            raise OSError(28, "No space left on device")
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", flaky)
    monkeypatch.setattr("prnet.batch.shards.time.sleep", lambda s: None)
    out = BatchOutput(tmp_path / "o", CONFIG)
    out.commit(0, _table(["a"]), ["a"])
    assert len(calls) == 2 and read_dataset(tmp_path / "o").num_rows == 1

    def broken(table, where, **kw):
        where.write(b"PAR1 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(PRNetError, match="rerun the same command"):
        out.commit(1, _table(["b"]), ["b"])
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["_config.json", MANIFEST, "part-00000.parquet"]  # nothing half-written


def test_a_bad_face_in_a_merged_batch_fails_only_its_image(prn, batch_images, monkeypatch):
    """The merged network batch is rejected by uncrop's check (a NaN map for one image's
    face): the images are retried one by one, and only that one becomes a failed row."""
    settings = RowSettings(out_dir=str(batch_images))
    names = ["a.jpg", "a_flip.jpg", "sub/a_small.png", "empty.jpg"]
    items = [decode(str(batch_images / n), 0, 80_000_000) for n in names]
    bad = items[1].image
    bad_crop = prn.crop(bad, prn.plan(prn.detect(bad), image_shape=bad.shape[:2])).crops[0]
    real = prn.predict_crops

    def poisoned(crops):
        maps = real(crops)
        maps[[np.array_equal(c, bad_crop) for c in crops]] = np.nan
        return maps

    monkeypatch.setattr(prn, "predict_crops", poisoned)
    rows = image_rows(prn, items, settings)
    monkeypatch.undo()
    assert [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in rows] == [
        ("a.jpg", "ok"), ("a_flip.jpg", "failed"), ("a_small.png", "ok"), ("empty.jpg", "failed")]
    assert "not finite" in rows[1]["error"] or "NaN" in rows[1]["error"]
    good = image_rows(prn, [items[0]], settings)
    np.testing.assert_allclose(rows[0]["landmarks"], good[0]["landmarks"], atol=1e-3)


def test_failed_row_is_one_line():
    row = failed_row("x.jpg", "first line\nsecond\tline")
    assert row["error"] == "first line second line" and row["face_index"] == -1
    assert rows_table([row], row_schema()).num_rows == 1
    assert Decoded("x", 0).image is None


@pytest.mark.parametrize("module, extra", [("pyarrow", "prnet[batch]"), ("ray", "prnet[ray]")])
def test_missing_extra_is_one_line(module, extra, batch_images, tmp_path, monkeypatch, capsys):
    from prnet.cli import main

    monkeypatch.setitem(sys.modules, module, None)  # import fails
    out = tmp_path / "out"
    code = main(["batch", str(batch_images / "a.jpg"), "-o", str(out), "--device", "cpu", "-q"]
                + (["--engine", "ray"] if module == "ray" else []))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and f'pip install "{extra}"' in err[0], err
    assert not out.exists()
