"""A ``prnet batch`` job from end to end: list the inputs, open (or resume) the output folder,
plan shards for the images not done yet, run an engine, write the summary."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prnet.batch.inputs import list_inputs
from prnet.batch.process import RowSettings
from prnet.batch.rows import DENSE_KINDS, row_schema
from prnet.batch.shards import BatchOutput, ShardRouter, plan_shards
from prnet.errors import PRNetError

if TYPE_CHECKING:
    from prnet import PRN
    from prnet.outputs import ExportOptions
    from prnet.pipeline.options import ModelOptions

__all__ = ["ENGINES", "ROWS_VERSION", "BatchJob", "run_batch"]

ENGINES = ("local", "ray")
#: Version of the row layout (recorded in ``_config.json``; a rerun must match it).
ROWS_VERSION = 1
#: Model options that change no row (beyond float noise) and may differ between reruns.
_FREE_OPTIONS = ("device", "batch_size")


@dataclass
class BatchJob:
    """The settings of a job (see ``prnet batch --help``)."""

    inputs: Sequence[str]
    out_dir: str
    column: str = "path"
    shard_rows: int | None = None
    workers: int = 1
    chunk_size: int = 8
    threads: int | None = None
    dense: str | None = None
    outputs: ExportOptions | None = None
    max_pixels: int = 80_000_000
    engine: str = "local"
    ray_address: str | None = None
    progress: bool = True

    def check(self) -> None:
        """Raises PRNetError for a bad value (before anything is loaded or written)."""
        if self.engine not in ENGINES:
            raise PRNetError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.dense is not None and self.dense not in DENSE_KINDS:
            raise PRNetError(f"--dense must be one of {', '.join(DENSE_KINDS)}, got {self.dense!r}")
        for name in ("workers", "chunk_size", "max_pixels"):
            if int(getattr(self, name)) < 1:
                raise PRNetError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.shard_rows is not None and self.shard_rows < 1:
            raise PRNetError(f"--shard-rows must be >= 1, got {self.shard_rows}")

    @property
    def images_per_shard(self) -> int:
        """``shard_rows`` (default 10000; 500 with ``dense``, whose rows hold ~400 KB)."""
        return self.shard_rows or (500 if self.dense else 10_000)

    def config(self, options: ModelOptions) -> dict[str, Any]:
        """What a rerun into the same folder must repeat (``_config.json``)."""
        model = {k: v for k, v in options.to_json().items() if k not in _FREE_OPTIONS}
        return {"rows_version": ROWS_VERSION, "model": model, "dense": self.dense,
                "outputs": None if self.outputs is None else self.outputs.to_json(),
                "max_pixels": int(self.max_pixels)}

    def settings(self) -> RowSettings:
        return RowSettings(os.fspath(self.out_dir), self.dense, self.outputs, int(self.max_pixels))


def run_batch(job: BatchJob, options: ModelOptions, prn: PRN | None = None) -> dict[str, Any]:
    """Run ``job`` to the end (resuming what an earlier run of it left) and return the summary
    also written to ``OUT/_summary.json``.

    Args:
        options: the model options (each worker or actor builds its PRN from them).
        prn: the local engine's model in this process (built from ``options`` when None).

    Raises:
        PRNetError: bad settings, no input, a folder written with other options, a missing
            extra, or an engine failure; finished shards are kept either way.
    """
    from prnet.batch._deps import require_pyarrow

    require_pyarrow()
    job.check()
    t0 = time.perf_counter()
    paths = list_inputs(job.inputs, job.column, exclude=job.out_dir)
    started_ray = False
    if job.engine == "ray":  # connect before the output folder is touched
        from prnet.batch.ray_engine import connect

        started_ray = connect(job.ray_address)
    try:
        return _run(job, options, prn, paths, t0)
    finally:
        if started_ray:
            import ray

            ray.shutdown()


def _run(job: BatchJob, options: ModelOptions, prn: PRN | None, paths: list[str],
         t0: float) -> dict[str, Any]:
    out = BatchOutput(job.out_dir, job.config(options))
    done = out.done_paths
    pending = [p for p in paths if p not in done]
    shards = plan_shards(pending, out.next_shard, job.images_per_shard)
    settings = job.settings()
    schema = row_schema(job.dense, job.outputs is not None)
    run = {"images": 0, "faces": 0}
    extra: dict[str, Any] = {}
    bar = _progress(len(pending), job.progress)

    def on_image(images: int, faces: int) -> None:
        run["images"] += images
        run["faces"] += faces
        if bar is not None:
            bar.update(images)
            secs = max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix_str(f"{run['faces'] / secs:.1f} faces/s", refresh=False)

    from prnet.cli.messages import printable

    router = ShardRouter(out, shards, schema, key=printable, on_image=on_image)
    try:
        if pending:
            extra = _run_engine(job, options, prn, shards, settings, router.add)
        if router.pending:
            raise PRNetError(f"internal error: shards {router.pending} did not complete")
    finally:
        if bar is not None:
            bar.close()
    secs = time.perf_counter() - t0
    summary = {**out.totals(), "seconds": round(secs, 3),
               "images_per_s": round(run["images"] / secs, 3) if secs else None,
               "faces_per_s": round(run["faces"] / secs, 3) if secs else None,
               "this_run": run, "skipped_done_earlier": len(paths) - len(pending),
               "engine": job.engine, "workers": job.workers, **extra,
               "chunk_size": job.chunk_size, "batch_size": options.batch_size,
               "device": options.device}
    out.write_summary(summary)
    return summary


def _run_engine(job: BatchJob, options: ModelOptions, prn: PRN | None, shards, settings,
                add) -> dict[str, Any]:
    if job.engine == "ray":
        from prnet.batch.ray_engine import run_ray

        return {"ray": run_ray(options, shards, settings, add, workers=job.workers,
                               chunk_size=job.chunk_size, threads=job.threads)}
    from prnet.batch.local import run_local

    if prn is None:
        from prnet import PRN

        prn = PRN(options=options)
    run_local(prn, shards, settings, add, workers=job.workers, chunk_size=job.chunk_size,
              threads=job.threads)
    return {}


def _progress(total: int, enabled: bool):
    if not enabled or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="prnet batch", unit="img", file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)
