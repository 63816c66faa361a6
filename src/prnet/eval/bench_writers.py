"""What each output format of ``prnet reconstruct`` costs to write for one face (a figure of
``prnet bench``; never asserted).

The face's results (vertices, colours, visibility, pose, texture) are computed once before the
timing, so each figure is the writer alone: encoding (the texture's PNG included: its cache is
emptied before each write) plus the file system, with each file fsync-ed as ``prnet
reconstruct`` does by default, and without (``prnet --no-fsync``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prnet.errors import PRNetError
from prnet.io._atomic import FSYNC_ENV

__all__ = ["bench_writers", "fsync_setting"]


@contextlib.contextmanager
def fsync_setting(enabled: bool) -> Iterator[None]:
    """Within the block, written files are fsync-ed or not (``$PRNET_FSYNC``), then as before."""
    before = os.environ.get(FSYNC_ENV)
    os.environ[FSYNC_ENV] = "1" if enabled else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FSYNC_ENV, None)
        else:
            os.environ[FSYNC_ENV] = before


def bench_writers(face: Any, repeats: int = 5, names: Sequence[str] | None = None,
                  folder: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Milliseconds to write each output of ``face`` (median of ``repeats`` after one warm-up
    write of every output, which also computes what the writers share).

    Args:
        face: a :class:`prnet.pipeline.FaceResult`.
        repeats: timed writes per output and fsync setting (≥ 1).
        names: registered outputs to time (default: every one that stands alone, not ``front``).
        folder: where to write (default: a temporary folder, removed after).

    Returns:
        ``{"fsync": {name: ms}, "no_fsync": {name: ms}}``.

    Raises:
        PRNetError: ``repeats < 1`` or an unknown output name.
    """
    from prnet.io._mesh import clear_caches
    from prnet.outputs import ExportOptions, export_face
    from prnet.outputs.registry import output_names, registered

    if repeats < 1:
        raise PRNetError(f"repeats: expected ≥ 1, got {repeats}")
    chosen = list(names) if names is not None else [o.name for o in registered() if not o.modifier]
    unknown = sorted(set(chosen) - set(output_names()))
    if unknown:
        raise PRNetError(f"unknown output(s): {', '.join(unknown)}")
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(folder or tmp)
        export_face(face, where, "warm", ExportOptions.from_names(chosen))
        for key, enabled in (("fsync", True), ("no_fsync", False)):
            times: dict[str, list[float]] = {n: [] for n in chosen}
            with fsync_setting(enabled):
                for rep in range(repeats):
                    for name in chosen:  # interleaved: the machine's load falls on all alike
                        opts = ExportOptions.from_names([name])
                        clear_caches()  # the PNG encoding is part of a texture's writer
                        t0 = time.perf_counter()
                        export_face(face, where, f"{key}{rep}", opts)
                        times[name].append((time.perf_counter() - t0) * 1e3)
            out[key] = {n: round(float(np.median(v)), 3) for n, v in times.items()}
    return out
