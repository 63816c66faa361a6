"""The optional API key (``prnet serve --api-key KEY``).

Open without a key: ``/`` (the viewer page), ``/static/*``, ``/health``, ``/docs`` and
``/openapi.json`` (the API description), ``/v1/demo-image`` (the bundled sample photo).
Everything else (``/v1/reconstruct``, ``/v1/swap``, ``/metrics``, unknown routes) needs header
``X-API-Key: KEY`` or ``Authorization: Bearer KEY`` (401 otherwise, the body unread).
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from prnet.serve.errors import error_response

__all__ = ["OPEN_PATHS", "ApiKeyMiddleware", "is_open"]

OPEN_PATHS = frozenset({"/", "/health", "/docs", "/openapi.json", "/v1/demo-image"})


def is_open(path: str) -> bool:
    """Whether ``path`` is served without the key."""
    return path in OPEN_PATHS or path.startswith("/static/")


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key of ``X-API-Key`` or ``Authorization: Bearer``, if any."""
    for k, v in headers:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1").strip()
        if name == "x-api-key":
            return value
        if name == "authorization" and value.lower().startswith("bearer "):
            return value[7:].strip()
    return None


class ApiKeyMiddleware:
    """ASGI middleware: 401 on a closed path without the right key."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app, self.key = app, key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_open(scope["path"]):
            key = presented_key(scope["headers"])
            if key is None or not hmac.compare_digest(key.encode("utf-8"), self.key):
                reason = "missing API key" if key is None else "wrong API key"
                await error_response(401, f"{reason}: send X-API-Key: KEY or "
                                     "Authorization: Bearer KEY",
                                     headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)
