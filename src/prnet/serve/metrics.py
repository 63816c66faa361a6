"""Prometheus text exposition (version 0.0.4) of the service, written by hand.

``prnet_requests_total{route,status}``, ``prnet_request_duration_seconds{route}`` (histogram),
``prnet_faces_total``, ``prnet_errors_total{code}``, ``prnet_queue_depth`` (requests waiting for
the network), ``prnet_requests_in_progress``, ``prnet_batch_faces`` (histogram of faces per
network call) and ``prnet_network_calls_total``.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prnet.serve.errors import CODES

__all__ = ["LATENCY_BUCKETS", "Metrics", "MetricsMiddleware"]

#: Latency histogram bucket bounds (seconds).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Faces-per-network-call histogram bucket bounds.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class _Histogram:
    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = np.asarray(bounds, np.float64)
        self.counts = np.zeros(len(bounds) + 1, np.int64)  # the last: +Inf only
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[int(np.searchsorted(self.bounds, value, side="left"))] += 1
        self.sum += float(value)

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        cum = np.cumsum(self.counts)
        out = [f'{name}_bucket{{{labels}{sep}le="{b:g}"}} {c}' for b, c in zip(self.bounds, cum)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {cum[-1]}')
        brace = f"{{{labels}}}" if labels else ""
        return [*out, f"{name}_sum{brace} {self.sum:.6f}", f"{name}_count{brace} {cum[-1]}"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """The counters of one application (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = {}
        self.errors: dict[str, int] = defaultdict(int)
        self.batches = _Histogram(BATCH_BUCKETS)
        self.faces = 0
        self.in_progress = 0
        self.queue_depth: Callable[[], int] = lambda: 0

    def request_done(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[route, status] += 1
            self.latency.setdefault(route, _Histogram(LATENCY_BUCKETS)).observe(seconds)

    def error(self, code: str) -> None:
        with self._lock:
            self.errors[code] += 1

    def add_faces(self, n: int) -> None:
        with self._lock:
            self.faces += int(n)

    def network_call(self, faces: int) -> None:
        with self._lock:
            self.batches.observe(faces)

    def render(self) -> str:
        """The exposition text."""
        with self._lock:
            lines = ["# HELP prnet_requests_total HTTP requests by route and status.",
                     "# TYPE prnet_requests_total counter"]
            lines += [f'prnet_requests_total{{route="{_escape(r)}",status="{s}"}} {n}'
                      for (r, s), n in sorted(self.requests.items())]
            lines += ["# HELP prnet_request_duration_seconds Request latency by route.",
                      "# TYPE prnet_request_duration_seconds histogram"]
            for r, h in sorted(self.latency.items()):
                lines += h.lines("prnet_request_duration_seconds", f'route="{_escape(r)}"')
            lines += ["# HELP prnet_errors_total Error responses by error code.",
                      "# TYPE prnet_errors_total counter"]
            lines += [f'prnet_errors_total{{code="{_escape(c)}"}} {n}'
                      for c, n in sorted(self.errors.items())]
            lines += ["# HELP prnet_faces_total Faces reconstructed.",
                      "# TYPE prnet_faces_total counter", f"prnet_faces_total {self.faces}",
                      "# HELP prnet_queue_depth Requests waiting for the network.",
                      "# TYPE prnet_queue_depth gauge", f"prnet_queue_depth {self.queue_depth()}",
                      "# HELP prnet_requests_in_progress Requests being handled.",
                      "# TYPE prnet_requests_in_progress gauge",
                      f"prnet_requests_in_progress {self.in_progress}",
                      "# HELP prnet_batch_faces Faces per network call.",
                      "# TYPE prnet_batch_faces histogram"]
            lines += self.batches.lines("prnet_batch_faces", "")
            calls = int(self.batches.counts.sum())
            lines += ["# HELP prnet_network_calls_total Batched network calls.",
                      "# TYPE prnet_network_calls_total counter",
                      f"prnet_network_calls_total {calls}"]
        return "\n".join(lines) + "\n"


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "static" if scope["path"].startswith("/static/") else "unmatched"
    return "static" if path == "/static" else path


class MetricsMiddleware:
    """ASGI middleware counting every HTTP response (its route template, never the raw path,
    so that unknown paths cannot grow the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with self.metrics._lock:
            self.metrics.in_progress += 1
        try:
            await self.app(scope, receive, tracked)
        finally:
            with self.metrics._lock:
                self.metrics.in_progress -= 1
            self.metrics.request_done(_route_label(scope), status, time.perf_counter() - t0)
            if status >= 400:
                self.metrics.error(CODES.get(status, str(status)))
