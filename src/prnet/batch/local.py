"""The local engine: chunks of images through a pool of worker processes, each holding one
:class:`prnet.PRN` (decode, detect, one batched network call per chunk, post-processing), the
rows streamed back to the writer as chunks finish. At most ``2 × workers`` chunks are in flight,
so memory stays bounded whatever the number of images.

With one worker everything runs in this process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from prnet.batch.process import RowSettings, decode, image_rows
from prnet.batch.rows import row_schema, rows_table
from prnet.errors import PRNetError

if TYPE_CHECKING:
    import pyarrow as pa

    from prnet import PRN
    from prnet.pipeline.options import ModelOptions

log = logging.getLogger(__name__)

__all__ = ["chunks", "run_chunk", "run_local"]

Chunk = tuple[int, list[str]]


def chunks(shards: Mapping[int, Sequence[str]], size: int) -> Iterator[Chunk]:
    """(shard, paths) runs of at most ``size`` images, shard by shard."""
    for k, paths in shards.items():
        for i in range(0, len(paths), size):
            yield k, list(paths[i:i + size])


def run_chunk(prn: PRN, chunk: Chunk, settings: RowSettings) -> pa.Table:
    """The rows of one chunk of images (the work of a worker)."""
    shard, paths = chunk
    items = [decode(p, shard, settings.max_pixels) for p in paths]
    return rows_table(image_rows(prn, items, settings),
                      row_schema(settings.dense, settings.outputs is not None))


# ---------------------------------------------------------------------- worker processes

_WORKER: dict[str, Any] = {}


def _init_worker(options: ModelOptions, settings: RowSettings, threads: int) -> None:
    import torch

    from prnet import PRN

    torch.set_num_threads(max(1, threads))
    _WORKER.update(prn=PRN(options=options), settings=settings, parent=os.getppid())


def _work(chunk: Chunk) -> pa.Table:
    if os.getppid() != _WORKER["parent"]:  # the job was killed: do not outlive it
        os._exit(1)
    return run_chunk(_WORKER["prn"], chunk, _WORKER["settings"])


def run_local(prn: PRN, shards: Mapping[int, Sequence[str]], settings: RowSettings,
              add: Callable[[pa.Table], None], *, workers: int = 1, chunk_size: int = 8,
              threads: int | None = None) -> None:
    """Process every image of ``shards``, handing each finished chunk's rows to ``add``.

    Args:
        prn: the model (used as is with one worker; its options build each worker's own).
        workers: processes (1: this process).
        chunk_size: images per chunk (their faces go through the network together).
        threads: torch threads per worker (default: the CPUs shared out between workers).
    """
    todo = chunks(shards, chunk_size)
    if workers <= 1:
        for chunk in todo:
            add(run_chunk(prn, chunk, settings))
        return
    import multiprocessing

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker,
                               initargs=(prn.options, settings, threads))
    running: set[Future] = set()
    try:
        for chunk in todo:
            running.add(pool.submit(_work, chunk))
            if len(running) >= 2 * workers:
                running = _drain(running, add, FIRST_COMPLETED)
        _drain(running, add, None)
    except BrokenProcessPool:
        raise PRNetError("a worker process died (out of memory?); rerun the same command to "
                         "resume") from None
    finally:
        for f in running:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _drain(running: set[Future], add: Callable[[pa.Table], None],
           return_when: str | None) -> set[Future]:
    """Hand the finished chunks to ``add``; wait for one (FIRST_COMPLETED) or all (None)."""
    done, left = wait(running, return_when=return_when or "ALL_COMPLETED")
    for f in done:
        add(f.result())
    return left
