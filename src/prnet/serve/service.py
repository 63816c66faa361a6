"""The state one application shares: the model (loaded once, lazily), the thread pools, the
batcher and the admission count."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from prnet.serve.batching import Batcher
from prnet.serve.errors import error_response
from prnet.serve.metrics import Metrics
from prnet.serve.reconstruction import Reconstructor

if TYPE_CHECKING:
    from prnet import PRN
    from prnet.serve.config import ServeConfig

log = logging.getLogger("prnet.serve")

__all__ = ["AdmissionMiddleware", "ModelInfo", "Service"]


@dataclass(frozen=True)
class ModelInfo:
    """What ``/health`` tells about the model."""

    model: str
    sha256: str
    device: str
    backend: str


class Service:
    """The model and the machinery around it for one application."""

    def __init__(self, config: ServeConfig, prn: PRN | None = None) -> None:
        self.config = config
        self.metrics = Metrics()
        self.cpu_pool = ThreadPoolExecutor(config.workers, thread_name_prefix="prnet-cpu")
        self.net_pool = ThreadPoolExecutor(1, thread_name_prefix="prnet-net")
        self.pending = 0  # requests admitted on the upload routes
        self._prn = prn
        self._info: ModelInfo | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: Reconstructor | None = None

    def _load(self) -> tuple[PRN, ModelInfo]:
        from prnet import PRN
        from prnet.models.weights import DEFAULT_MODEL, weights_sha256

        prn = self._prn
        if prn is None:
            prn = PRN(options=self.config.model) if self.config.model is not None else PRN()
        name = prn.options.model or DEFAULT_MODEL
        info = ModelInfo(name, weights_sha256(name, prn.options.weights), prn.device, prn.backend)
        return prn, info

    async def runner(self) -> Reconstructor:
        """The reconstructor of the running event loop (the model loaded on first use)."""
        loop = asyncio.get_running_loop()
        if self._runner is not None and self._loop is loop:
            return self._runner
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            if self._runner is None or self._loop is not loop:
                if self._info is None:
                    self._prn, self._info = await loop.run_in_executor(self.cpu_pool, self._load)
                c = self.config
                batcher = Batcher(self._prn, self.net_pool, self.max_batch, c.batch_wait_ms,
                                  c.max_pending, self.metrics)
                self.metrics.queue_depth = lambda: batcher.depth
                self._runner = Reconstructor(self._prn, batcher, self.cpu_pool, c.max_pixels)
                self._loop = loop
        return self._runner

    @property
    def max_batch(self) -> int:
        """Faces per shared network call: the configured one, else the network's batch size
        (known once the model is loaded; 1 before)."""
        if self.config.max_batch is not None:
            return self.config.max_batch
        return int(self._prn.batch_size) if self._prn is not None else 1

    async def info(self) -> ModelInfo:
        """The model's description (loading it if needed)."""
        await self.runner()
        assert self._info is not None
        return self._info

    async def close(self) -> None:
        """Stop the batcher; the pools stay usable for a later event loop."""
        if self._runner is not None:
            await self._runner.batcher.close()
            self._runner = None


class AdmissionMiddleware:
    """ASGI middleware: at most ``limit`` requests at once on ``paths``; more get 503 before
    their body is read (memory stays bounded by ``limit`` × the upload limit)."""

    def __init__(self, app: ASGIApp, service: Service, limit: int, paths: tuple[str, ...]) -> None:
        self.app, self.service, self.limit, self.paths = app, service, int(limit), tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.service.pending >= self.limit:
            await error_response(503, f"server busy: {self.limit} requests in progress; retry "
                                 "later", headers={"Retry-After": "1"})(scope, receive, send)
            return
        self.service.pending += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.service.pending -= 1
