"""The FastAPI application of ``prnet serve``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from prnet.serve.auth import ApiKeyMiddleware
from prnet.serve.config import ServeConfig
from prnet.serve.errors import CatchAllMiddleware, install_handlers
from prnet.serve.limits import UploadLimitMiddleware
from prnet.serve.metrics import MetricsMiddleware
from prnet.serve.routes_meta import STATIC_DIR
from prnet.serve.routes_meta import router as meta_router
from prnet.serve.routes_v1 import router as v1_router
from prnet.serve.service import AdmissionMiddleware, Service

if TYPE_CHECKING:
    from prnet import PRN

__all__ = ["UPLOAD_PATHS", "create_app"]

#: The routes that take uploads (body and admission limits apply).
UPLOAD_PATHS = ("/v1/reconstruct", "/v1/swap")


def create_app(config: ServeConfig | None = None, prn: PRN | None = None) -> FastAPI:
    """The application.

    Args:
        config: limits and options (default :class:`ServeConfig`).
        prn: the model to serve (default: built from ``config.model`` on first use, or when
            the server starts).
    """
    from prnet import __version__

    config = config or ServeConfig()
    service = Service(config, prn)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.runner()  # load the model before serving
        yield
        await service.close()

    app = FastAPI(title="prnet serve", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Dense 3D face reconstruction (PRNet) over HTTP. Errors are JSON "
                  '`{"error": code, "message": line}`.')
    app.state.service = service
    install_handlers(app)
    app.include_router(meta_router)
    app.include_router(v1_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # added innermost first: metrics see every response, the catch-all every error
    app.add_middleware(UploadLimitMiddleware, max_bytes=config.max_upload_bytes, paths=UPLOAD_PATHS)
    app.add_middleware(AdmissionMiddleware, service=service, limit=config.max_pending,
                       paths=UPLOAD_PATHS)
    if config.api_key is not None:
        app.add_middleware(ApiKeyMiddleware, key=config.api_key)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app
