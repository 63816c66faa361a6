"""Every error the service answers is JSON ``{"error": code, "message": one line}``.

:class:`ServiceError` carries a status and code; :func:`install_handlers` maps it, prnet's own
errors, FastAPI's validation errors and Starlette's HTTP errors (404, 405, ...) to that shape;
:class:`CatchAllMiddleware` turns anything else into a 500 with one line (the traceback goes
to the server's log, never into a response).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prnet.errors import (
    ImageReadError,
    InputShapeError,
    InvalidInputError,
    PRNetError,
    ReconstructionError,
)

log = logging.getLogger("prnet.serve")

__all__ = ["BODY_TOO_LARGE", "CatchAllMiddleware", "ServiceError", "error_response",
           "install_handlers", "one_line"]

#: Scope key set when a request body went over the upload limit while it was being read.
BODY_TOO_LARGE = "prnet.body_too_large"

#: Error code of each HTTP status the service answers with.
CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
         413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_parameter",
         500: "internal_error", 503: "service_busy"}

_MAX_MESSAGE = 300


def one_line(message: Any) -> str:
    """``message`` on one line, whitespace collapsed, at most 300 characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 3] + "..."


class ServiceError(Exception):
    """An error answered with ``status`` and ``{"error": code, "message": message}``."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = int(status)
        self.code = code or CODES.get(self.status, "error")
        self.message = one_line(message)
        self.headers = headers


def error_response(status: int, message: str, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response."""
    return JSONResponse({"error": code or CODES.get(status, "error"), "message": one_line(message)},
                        status_code=status, headers=headers)


def status_of(exc: PRNetError) -> int:
    """HTTP status of a prnet error: unreadable image 400, bad value 422, broken output 500."""
    if isinstance(exc, ImageReadError):
        return 413 if "image too large" in str(exc) else 400
    if isinstance(exc, ReconstructionError):
        return 500
    if isinstance(exc, (InvalidInputError, InputShapeError)):
        return 422
    return 422


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.headers)

    @app.exception_handler(PRNetError)
    async def _prnet(request: Request, exc: PRNetError) -> JSONResponse:
        status = status_of(exc)
        if status == 500:
            log.error("reconstruction failed: %s", one_line(exc))
        return error_response(status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.scope.get(BODY_TOO_LARGE):
            return _too_large(request.scope)
        return error_response(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if request.scope.get(BODY_TOO_LARGE):  # FastAPI reports a failed body read as 400
            return _too_large(request.scope)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.method} {request.url.path}"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


def _too_large(scope: Scope) -> JSONResponse:
    return error_response(413, f"request body over the upload limit of {scope[BODY_TOO_LARGE]} bytes")


class CatchAllMiddleware:
    """ASGI middleware: an exception that no handler took becomes a 500 JSON response with one
    line (logged with its traceback here); the server keeps serving."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # the last line of defence
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # the response is half sent: nothing more can be said
            if scope.get(BODY_TOO_LARGE):
                await _too_large(scope)(scope, receive, send)
                return
            await error_response(500, f"internal error ({type(exc).__name__})")(scope, receive, send)
