"""Micro-batching: concurrent requests share network calls.

Each request crops its faces (:meth:`prnet.PRN.crop`) and hands the :class:`CropBatch` to
:meth:`Batcher.predict`. One task takes the waiting batches off a bounded queue (up to
``max_batch`` faces, waiting at most ``wait_ms`` for more after the first), merges them
(:func:`prnet.pipeline.posmaps.concat_batches`), runs :meth:`prnet.PRN.predict_crops` once in
the network thread and gives each request its own slice of the maps; uncropping and the rest
stay with each request, so one bad request never fails another. A merged call that raises is
retried request by request, so the error reaches only the request that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from prnet.pipeline.posmaps import CropBatch, concat_batches
from prnet.serve.errors import ServiceError

if TYPE_CHECKING:
    from prnet import PRN
    from prnet.serve.metrics import Metrics

log = logging.getLogger("prnet.serve")

__all__ = ["Batcher"]


@dataclass(eq=False)
class _Job:
    batch: CropBatch
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Runs the network for many requests in shared calls (one per ``max_batch`` faces).

    Args:
        prn: the model.
        network_pool: the executor the network runs in (one thread: one call at a time).
        max_batch: most crops per network call (a request's own crops are never split, so
            one request with more faces runs alone); 1 disables batching.
        wait_ms: the longest a batch waits for more requests after its first one.
        max_queue: most requests waiting for the network; more get 503.
    """

    def __init__(self, prn: PRN, network_pool: Executor, max_batch: int = 8,
                 wait_ms: float = 5.0, max_queue: int = 64,
                 metrics: Metrics | None = None) -> None:
        self.prn, self.pool = prn, network_pool
        self.max_batch, self.wait = int(max_batch), float(wait_ms) / 1000.0
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max_queue)
        self.metrics = metrics
        self._task: asyncio.Task | None = None
        self._held: _Job | None = None  # a job that did not fit the previous batch

    @property
    def depth(self) -> int:
        """Requests waiting for the network."""
        return self.queue.qsize() + (self._held is not None)

    async def predict(self, batch: CropBatch) -> np.ndarray:
        """The crop-space maps of ``batch`` (as :meth:`prnet.PRN.predict_crops`).

        Raises:
            ServiceError: 503 when the queue is full.
        """
        if batch.faces == 0:
            return np.zeros((0, *batch.crops.shape[1:]), np.float32)
        self._ensure_running()
        job = _Job(batch, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise ServiceError(503, "server busy: too many requests waiting for the network; "
                               "retry later", headers={"Retry-After": "1"}) from None
        return await job.future

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the batching task (waiting requests get an error)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _collect(self) -> list[_Job]:
        """The next batch: the held job or the first queued one, then more until
        ``max_batch`` crops or ``wait_ms`` after the first."""
        first = self._held or await self.queue.get()
        self._held = None
        jobs, crops = [first], len(first.batch.crops)
        deadline = time.monotonic() + self.wait
        while crops < self.max_batch:
            if self.queue.empty():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), left)
                except asyncio.TimeoutError:
                    break
            else:
                job = self.queue.get_nowait()
            if crops + len(job.batch.crops) > self.max_batch or job.batch.views != first.batch.views:
                self._held = job  # first in the next batch
                break
            jobs.append(job)
            crops += len(job.batch.crops)
        return [j for j in jobs if not j.future.done()]  # drop requests that went away

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            if not jobs:
                continue
            try:
                maps = await self._call(loop, [j.batch for j in jobs])
            except Exception:  # retried alone: only the culprit fails
                log.warning("a batched network call failed; retrying request by request",
                            exc_info=True)
                for job in jobs:
                    await self._settle(job, loop)
                continue
            splits = np.cumsum([len(j.batch.crops) for j in jobs])[:-1]
            for job, part in zip(jobs, np.split(maps, splits), strict=True):
                if not job.future.done():
                    job.future.set_result(part)

    async def _settle(self, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        try:
            result = await self._call(loop, [job.batch])
        except Exception as exc:  # noqa: BLE001 - handed to its request
            if not job.future.done():
                job.future.set_exception(exc)
        else:
            if not job.future.done():
                job.future.set_result(result)

    async def _call(self, loop: asyncio.AbstractEventLoop, batches: list[CropBatch]) -> np.ndarray:
        merged = concat_batches(batches) if len(batches) > 1 else batches[0]
        if self.metrics is not None:
            self.metrics.network_call(len(merged.crops))
        return await loop.run_in_executor(self.pool, self.prn.predict_crops, merged.crops)
