"""The images of a ``prnet batch`` job: folders (recursive), glob patterns and image files
(:func:`prnet.io.listing.scan_inputs`), text files of paths (one a line), and a column of paths
in a Parquet or CSV file. Relative paths in a list file are relative to the list's folder.

Every path listed is kept, even one that does not exist: it gets a ``failed`` row, so that a
list of a million paths gives a million images in the dataset.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from prnet.errors import PRNetError

__all__ = ["LIST_SUFFIXES", "list_inputs"]

#: Suffixes of the files read as lists of paths rather than as images.
LIST_SUFFIXES = (".txt", ".csv", ".parquet", ".pq")


def _resolve(base: Path, entry: str) -> str:
    return entry if os.path.isabs(entry) else os.path.normpath(base / entry)


def _text_paths(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]


def _csv_paths(path: Path, column: str) -> list[str]:
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        reader = csv.DictReader(f)
        if column not in (reader.fieldnames or ()):
            raise PRNetError(f"{path}: no column {column!r} (columns: "
                             f"{', '.join(reader.fieldnames or []) or 'none'}); use --column")
        return [r[column].strip() for r in reader if (r[column] or "").strip()]


def _parquet_paths(path: Path, column: str) -> list[str]:
    from prnet.batch._deps import require_pyarrow

    pa = require_pyarrow()
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        if column not in names:
            raise PRNetError(f"{path}: no column {column!r} (columns: {', '.join(names)}); "
                             "use --column")
        values = pq.read_table(path, columns=[column]).column(column)
    except (OSError, pa.ArrowException) as exc:
        raise PRNetError(f"cannot read the list of paths {path}: {exc}") from None
    return [str(v) for v in values.to_pylist() if v is not None and str(v).strip()]


def _list_file(path: Path, column: str) -> list[str]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".txt":
            entries = _text_paths(path)
        elif suffix == ".csv":
            entries = _csv_paths(path, column)
        else:
            entries = _parquet_paths(path, column)
    except (OSError, UnicodeError, csv.Error) as exc:
        raise PRNetError(f"cannot read the list of paths {path}: {exc}") from None
    return [_resolve(path.parent, e) for e in entries]


def list_inputs(inputs: Sequence[str | os.PathLike], column: str = "path",
                exclude: str | os.PathLike | None = None) -> list[str]:
    """The image paths of a job, sorted and without duplicates; files under ``exclude`` (the
    output folder: its ``--outputs`` images) are left out of folders and globs.

    Raises:
        PRNetError: an input that is neither an image, a folder, a glob with matches nor a
            readable list of paths; or no image at all.
    """
    from prnet.io.listing import scan_inputs

    found: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.suffix.lower() in LIST_SUFFIXES and p.is_file():
            found += _list_file(p, column)
            continue
        scan = scan_inputs([item])
        if exclude is not None and not p.is_file():  # a file named explicitly is kept
            from prnet.cli.inputs import inside

            scan.images = [i for i in scan.images if not inside(i, Path(exclude))]
        if scan.missing:
            raise PRNetError(f"input {os.fspath(item)}: no file or folder matches")
        for bad, why in scan.unreadable:
            if bad == os.fspath(item) or why.startswith("cannot list folder"):
                raise PRNetError(f"input {bad}: {why}")
        # image files found but unreadable (a FIFO, a broken link) get a failed row each
        found += [os.fspath(i) for i in scan.images] + list(scan.skipped)
        found += [bad for bad, _ in scan.unreadable]
    paths = sorted(set(found))
    if not paths:
        raise PRNetError(f"no images found in {' '.join(map(os.fspath, inputs))}")
    return paths
