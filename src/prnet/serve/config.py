"""The service's limits and options, one frozen dataclass (``prnet serve`` flags)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prnet.errors import InvalidInputError
from prnet.io.image import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from prnet.pipeline.options import ModelOptions

__all__ = ["ServeConfig", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    """Options of the HTTP service.

    Attributes:
        host, port: where ``prnet serve`` listens (127.0.0.1 unless told otherwise).
        max_upload_mb: largest request body (MiB); larger ones get 413 before being read.
        max_pixels: largest image (width × height), checked from its header before decoding
            (at most :data:`prnet.io.image.DEFAULT_MAX_PIXELS`).
        api_key: when set, ``/v1/reconstruct``, ``/v1/swap`` and ``/metrics`` need it
            (header ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``).
        workers: threads for the CPU work of requests (decoding, detection, post-processing,
            encoding); the network runs in its own thread.
        max_batch: most faces per batched network call (1: no batching; ``None``: the
            network's own batch size, ``--batch-size``: 1 on the CPU, where a batched forward
            pass is slower per face, 16 on CUDA).
        batch_wait_ms: how long the first waiting request waits for others to join its batch.
        max_pending: most requests in progress at once; more get 503 (bounded memory).
        model: the model options (``None``: the bundled model on the default device).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 20.0
    max_pixels: int = 40_000_000
    api_key: str | None = None
    workers: int = 2
    max_batch: int | None = None
    batch_wait_ms: float = 5.0
    max_pending: int = 64
    model: ModelOptions | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        checks = {
            "port": 0 <= self.port <= 65535,
            "max_upload_mb": 0 < self.max_upload_mb <= 1024,
            "max_pixels": 0 < self.max_pixels <= DEFAULT_MAX_PIXELS,
            "workers": 1 <= self.workers <= 64,
            "max_batch": self.max_batch is None or 1 <= self.max_batch <= 1024,
            "batch_wait_ms": 0 <= self.batch_wait_ms <= 1000,
            "max_pending": 1 <= self.max_pending <= 100_000,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            limit = f" (at most {DEFAULT_MAX_PIXELS})" if name == "max_pixels" else ""
            raise InvalidInputError(f"--{name.replace('_', '-')} out of range: "
                                    f"{getattr(self, name)}{limit}")
        if self.api_key is not None and not self.api_key.strip():
            raise InvalidInputError("--api-key must not be empty")

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def url(self) -> str:
        """``http://host:port/`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"
