"""The output folder of ``prnet batch``: Parquet shards written atomically, the manifest that
makes a job resumable, and the check that a rerun uses the same options.

Layout of ``OUT``::

    part-00000.parquet ...   shards (Arrow schema of prnet.batch.rows)
    _config.json             the options that decide the rows (a rerun must match them)
    _manifest.jsonl          one line per finished shard: its file, the input paths it covers
                             and its counts; appended and fsync-ed after the shard's rename
    _summary.json            totals of the dataset and figures of the last run
    _files/part-00000/ ...   --outputs files of each shard

A shard counts once its manifest line is complete. On start, anything else (a shard renamed
just before a ``kill -9``, a torn last manifest line, temporaries, ``--outputs`` folders of
unfinished shards) is removed, and the images of unfinished shards are done again: every
image ends up in exactly one shard. Names starting with ``_`` or ``.`` are ignored by
Parquet readers (``pyarrow.dataset``, Spark, DuckDB globs of ``part-*``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prnet.batch._deps import require_pyarrow
from prnet.errors import PRNetError
from prnet.io._atomic import atomic_open, remove_stale_temporaries

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

__all__ = ["CONFIG", "MANIFEST", "SUMMARY", "BatchOutput", "ShardRouter", "plan_shards",
           "read_dataset", "shard_name"]

CONFIG, MANIFEST, SUMMARY = "_config.json", "_manifest.jsonl", "_summary.json"
#: Attempts at writing a shard before the job stops (a rerun resumes it).
WRITE_ATTEMPTS = 3
_SHARD = re.compile(r"^part-(\d{5,})\.parquet$")
_COUNTS = ("images", "rows", "faces", "no_face", "failed")


def shard_name(index: int) -> str:
    """``part-00042.parquet``."""
    return f"part-{index:05d}.parquet"


def plan_shards(paths: Sequence[str], first: int, images_per_shard: int) -> dict[int, list[str]]:
    """Consecutive runs of ``images_per_shard`` paths, numbered from ``first``."""
    n = max(1, int(images_per_shard))
    return {first + k: list(paths[i:i + n]) for k, i in enumerate(range(0, len(paths), n))}


def _describe_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new), key=str)
    diff = [f"{k} {old.get(k)!r} → {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diff[:3]) + ("; ..." if len(diff) > 3 else "")


class BatchOutput:
    """An output folder opened for a job (created, or checked and cleaned for a resume).

    Args:
        folder: the output folder.
        config: the options that decide the rows; a folder written with other ones is refused.

    Raises:
        PRNetError: ``folder`` is a file, or holds a dataset of other options, or cannot be
            created.
    """

    def __init__(self, folder: str | os.PathLike, config: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.config = json.loads(json.dumps(dict(config)))  # JSON-normalised, as stored
        if self.folder.exists() and not self.folder.is_dir():
            raise PRNetError(f"output {self.folder} exists and is not a folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PRNetError(f"cannot create the output folder {self.folder}: "
                             f"{exc.strerror or exc}") from None
        self._check_config()
        self.entries = self._read_manifest()
        self._remove_unfinished()

    # ------------------------------------------------------------------ opening

    def _check_config(self) -> None:
        path = self.folder / CONFIG
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if any(_SHARD.match(p.name) for p in self.folder.iterdir()) \
                    or (self.folder / MANIFEST).exists():
                raise PRNetError(f"{self.folder} holds Parquet shards but no {CONFIG}: not a "
                                 "prnet batch output; choose another -o") from None
            with atomic_open(path, "w") as f:
                json.dump(self.config, f, indent=1, sort_keys=True)
            return
        except (OSError, ValueError) as exc:
            raise PRNetError(f"cannot read {path}: {exc}") from None
        if old != self.config:
            raise PRNetError(f"{self.folder} was written with other options "
                             f"({_describe_change(old, self.config)}); rerun with the same "
                             "options or choose another -o")

    def _read_manifest(self) -> list[dict]:
        """The complete manifest lines; a torn or unparsable tail is cut off (rewritten)."""
        path = self.folder / MANIFEST
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return []
        entries, clean = [], True
        for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
            try:
                e = json.loads(line)
                if not (isinstance(e, dict) and _SHARD.match(str(e.get("shard", "")))
                        and isinstance(e.get("paths"), list)
                        and (self.folder / e["shard"]).is_file()):
                    raise ValueError(line[:80])
                entries.append(e)
            except ValueError:
                clean = False
                log.debug("dropping manifest line %r", line[:200])
        if not clean or (text and not text.endswith("\n")):
            with atomic_open(path, "w") as f:
                f.writelines(json.dumps(e) + "\n" for e in entries)
        return entries

    def _remove_unfinished(self) -> None:
        """Shards, ``--outputs`` folders and temporaries of shards not in the manifest."""
        from prnet.batch.process import FILES_DIR

        done = {e["shard"] for e in self.entries}
        remove_stale_temporaries(self.folder)
        for p in self.folder.iterdir():
            if _SHARD.match(p.name) and p.name not in done:
                log.debug("removing %s (not in the manifest)", p)
                p.unlink()
        files = self.folder / FILES_DIR
        if files.is_dir():
            for p in files.iterdir():
                if f"{p.name}.parquet" not in done:
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()

    # ------------------------------------------------------------------ state

    @property
    def done_paths(self) -> set[str]:
        """Input paths of the finished shards."""
        return {p for e in self.entries for p in e["paths"]}

    @property
    def next_shard(self) -> int:
        """The number of the next new shard."""
        nums = [int(_SHARD.match(e["shard"]).group(1)) for e in self.entries]
        return max(nums, default=-1) + 1

    def totals(self) -> dict[str, int]:
        """Counts over the finished shards (``shards``, ``images``, ``rows``, ``faces``,
        ``no_face``, ``failed``)."""
        out = {"shards": len(self.entries)}
        out.update({k: sum(int(e.get(k, 0)) for e in self.entries) for k in _COUNTS})
        return out

    # ------------------------------------------------------------------ writing

    def commit(self, index: int, table: pa.Table, paths: Sequence[str]) -> dict:
        """Write shard ``index`` atomically (retried), then append its manifest line (fsync)."""
        import pyarrow.parquet as pq

        name = shard_name(index)
        status = table.column("status").to_pylist()
        entry = {"shard": name, "images": len(paths), "rows": table.num_rows,
                 "faces": status.count("ok"), "no_face": status.count("no_face"),
                 "failed": status.count("failed"), "paths": list(paths)}
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with atomic_open(self.folder / name, "wb") as f:
                    pq.write_table(table, f, compression="zstd")
                break
            except OSError as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise PRNetError(f"cannot write {self.folder / name} after {attempt} "
                                     f"attempts: {exc}; rerun the same command to resume") from None
                log.warning("writing %s failed (%s); retrying", name, exc)
                time.sleep(0.5 * attempt)
        line = (json.dumps(entry) + "\n").encode("utf-8", "surrogateescape")
        fd = os.open(self.folder / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.entries.append(entry)
        return entry

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """``_summary.json`` (atomically)."""
        path = self.folder / SUMMARY
        with atomic_open(path, "w") as f:
            json.dump(dict(summary), f, indent=1)
        return path


class ShardRouter:
    """Collects rows arriving in any grouping and order, and commits each shard once every
    image of it has all its rows (``faces`` rows, or one for an image without faces).

    Args:
        output: where shards go.
        shards: shard number → the input paths it covers.
        schema: the rows' schema.
        key: an input path → its value in the ``path`` column.
        on_image: called with (images, faces) as images complete (progress).
    """

    def __init__(self, output: BatchOutput, shards: Mapping[int, Sequence[str]],
                 schema: pa.Schema, key: Callable[[str], str] = str,
                 on_image: Callable[[int, int], None] | None = None) -> None:
        self.output, self.schema, self.on_image = output, schema, on_image
        self.paths = {k: list(v) for k, v in shards.items()}
        self.shard_of = {key(p): k for k, ps in shards.items() for p in ps}
        if len(self.shard_of) != sum(map(len, shards.values())):
            raise PRNetError("two inputs have the same path column value")
        self.left = {k: len(v) for k, v in shards.items()}
        self.seen: dict[str, int] = {}
        self.parts: dict[int, list] = {k: [] for k in shards}
        self.committed: list[int] = []

    def add(self, batch: pa.Table | pa.RecordBatch) -> None:
        """Take rows; commits the shards they complete."""
        pa = require_pyarrow()
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        table = table.select(self.schema.names).cast(self.schema)
        take: dict[int, list[int]] = {}
        images = faces = 0
        completed = []
        for i, (path, n, status) in enumerate(zip(table.column("path").to_pylist(),
                                                  table.column("faces").to_pylist(),
                                                  table.column("status").to_pylist(),
                                                  strict=True)):
            k = self.shard_of.get(path)
            if k is None or self.left.get(k, 0) <= 0:
                raise PRNetError(f"internal error: a row for {path!r}, which no open shard "
                                 "covers")
            take.setdefault(k, []).append(i)
            self.seen[path] = self.seen.get(path, 0) + 1
            faces += status == "ok"
            if self.seen[path] == max(1, n):
                images += 1
                del self.seen[path]
                self.left[k] -= 1
                if self.left[k] == 0:
                    completed.append(k)
        for k, idx in take.items():
            self.parts[k].append(table.take(idx))
        if self.on_image is not None:
            self.on_image(images, faces)
        for k in completed:
            self._commit(k)

    def _commit(self, k: int) -> None:
        pa = require_pyarrow()
        table = pa.concat_tables(self.parts.pop(k)) if self.parts[k] else self.schema.empty_table()
        table = table.sort_by([("path", "ascending"), ("face_index", "ascending")])
        self.output.commit(k, table.combine_chunks(), self.paths.pop(k))
        self.committed.append(k)

    @property
    def pending(self) -> list[int]:
        """Shards not committed yet."""
        return sorted(k for k in self.parts)


def read_dataset(folder: str | os.PathLike, columns: Iterable[str] | None = None) -> pa.Table:
    """The rows of the finished shards of a ``prnet batch`` output folder (those listed in
    its manifest), as one table.

    Raises:
        PRNetError: no manifest (not a ``prnet batch`` output) or an unreadable shard.
    """
    pa = require_pyarrow()
    import pyarrow.parquet as pq

    folder = Path(folder)
    try:
        lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PRNetError(f"{folder}: no {MANIFEST} ({exc.strerror or exc})") from None
    names = []
    for line in lines:
        try:
            names.append(json.loads(line)["shard"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line: that shard is unfinished
    cols = None if columns is None else list(columns)
    try:
        tables = [pq.read_table(folder / n, columns=cols) for n in names]
    except (OSError, pa.ArrowException) as exc:
        raise PRNetError(f"cannot read a shard of {folder}: {exc}") from None
    if not tables:
        schema = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        from prnet.batch.rows import row_schema

        empty = row_schema(schema.get("dense"), bool(schema.get("outputs"))).empty_table()
        return empty if cols is None else empty.select(cols)
    return pa.concat_tables(tables)
