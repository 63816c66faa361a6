"""``prnet serve``: the HTTP service (FastAPI, ``pip install "prnet[serve]"``).

:func:`create_app` builds the application from a :class:`ServeConfig`; one model is shared by
every request and concurrent requests share batched network calls (:mod:`prnet.serve.batching`).
Importing this package needs only the core; the submodules need the ``serve`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prnet.serve.config import ServeConfig

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ServeConfig", "create_app", "require_serve_extra"]

SERVE_EXTRA_MESSAGE = 'prnet serve needs the serve extra: pip install "prnet[serve]"'


def require_serve_extra() -> None:
    """Raise one PRNetError line when FastAPI, uvicorn or python-multipart is missing."""
    import importlib

    from prnet.errors import PRNetError

    # python-multipart is python_multipart since 0.0.13, multipart before
    for names in (("fastapi",), ("uvicorn",), ("python_multipart", "multipart")):
        for module in names:
            try:
                importlib.import_module(module)
                break
            except ImportError:
                continue
        else:
            raise PRNetError(SERVE_EXTRA_MESSAGE)


def create_app(config: ServeConfig | None = None, prn: Any = None) -> FastAPI:
    """The FastAPI application (see :func:`prnet.serve.app.create_app`)."""
    require_serve_extra()
    from prnet.serve.app import create_app as _create

    return _create(config, prn)
