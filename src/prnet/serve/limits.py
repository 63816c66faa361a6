"""Upload limits, checked as early as possible.

* :class:`UploadLimitMiddleware` (ASGI): a POST to an upload route must be
  ``multipart/form-data`` (else 415, body unread); a ``Content-Length`` over the limit gets 413
  before the body is read, and a body without one (chunked) is cut off at the limit (413).
* :func:`check_image_header`: the pixel count from the image header (Pillow opens lazily, no
  decoding) against ``max_pixels`` (413) before :func:`prnet.io.read_image` decodes it.
* :func:`check_part_type`: the file part's own content type (415 unless an image or
  ``application/octet-stream``).
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prnet.serve.errors import BODY_TOO_LARGE, ServiceError, error_response

__all__ = ["UploadLimitMiddleware", "check_image_header", "check_part_type"]

#: Content types accepted for an image part (besides ``image/*``).
GENERIC_TYPES = ("application/octet-stream", "")


class _BodyTooLarge(Exception):
    """The request body went over the limit while being read."""


class UploadLimitMiddleware:
    """ASGI middleware limiting the request bodies of ``paths`` (POST) to ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, paths: tuple[str, ...]) -> None:
        self.app, self.max_bytes, self.paths = app, int(max_bytes), tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "multipart/form-data":
            await error_response(415, f"expected multipart/form-data, got {ctype or 'no content type'}"
                                 )(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await error_response(400, "invalid Content-Length")(scope, receive, send)
                return
            if int(length) > self.max_bytes:
                await error_response(413, f"request body of {int(length)} bytes is over the upload "
                                     f"limit of {self.max_bytes} bytes")(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    scope[BODY_TOO_LARGE] = self.max_bytes
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:  # not turned into a response further in: answer here
            await error_response(413, f"request body over the upload limit of {self.max_bytes} "
                                 "bytes")(scope, receive, send)


def check_part_type(name: str, content_type: str | None) -> None:
    """415 unless the part ``name`` is declared an image (or generic binary / undeclared)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if not (ctype.startswith("image/") or ctype in GENERIC_TYPES):
        raise ServiceError(415, f"{name}: expected an image, got content type {ctype}")


def check_image_header(name: str, data: bytes, max_pixels: int) -> None:
    """Refuse an empty upload (400) or an image over ``max_pixels`` (413) from its header.

    Data Pillow cannot identify are left to :func:`prnet.io.read_image`, which names the
    problem (400).
    """
    if not data:
        raise ServiceError(400, f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
    except Image.DecompressionBombError:  # over twice Pillow's limit, above any max_pixels
        raise ServiceError(413, f"{name}: image too large (limit {max_pixels} pixels)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return
    if w * h > max_pixels:
        raise ServiceError(413, f"{name}: image too large ({w}x{h} = {w * h} pixels, "
                           f"limit {max_pixels})")
