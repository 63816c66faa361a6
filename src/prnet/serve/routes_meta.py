"""``/`` (the viewer page), ``/health``, ``/metrics``, ``/docs`` (offline Swagger UI) and
``/v1/demo-image``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

__all__ = ["DEMO_IMAGE", "STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEMO_IMAGE = Path(__file__).resolve().parents[1] / "assets" / "astronaut.jpg"
_SWAGGER = "static/vendor/swagger-ui"  # relative to /docs: works under a path prefix
_NO_VIEWER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>prnet serve</title></head>
<body><h1>prnet serve</h1><p>The web viewer is not installed. The API is described at
<a href="/docs">/docs</a>; the service is up at <a href="/health">/health</a>.</p></body></html>
"""

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    """The viewer page (``static/index.html``), or a short page saying it is not installed."""
    page = STATIC_DIR / "index.html"
    if page.is_file():
        return HTMLResponse(page.read_text(encoding="utf-8"))
    return HTMLResponse(_NO_VIEWER)


@router.get("/health", tags=["service"])
async def health(request: Request) -> dict:
    """``{"status": "ok", "model", "sha256", "device", ...}`` once the model is loaded."""
    service = request.app.state.service
    info = await service.info()
    c = service.config
    from prnet import __version__

    return {"status": "ok", "model": info.model, "sha256": info.sha256, "device": info.device,
            "backend": info.backend, "prnet_version": __version__,
            "max_batch": service.max_batch, "batch_wait_ms": c.batch_wait_ms,
            "max_upload_mb": c.max_upload_mb, "max_pixels": c.max_pixels}


@router.get("/metrics", response_class=PlainTextResponse, tags=["service"])
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text exposition."""
    return PlainTextResponse(request.app.state.service.metrics.render(),
                             media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/demo-image", response_class=FileResponse, tags=["service"],
            responses={200: {"content": {"image/jpeg": {}}}})
async def demo_image() -> FileResponse:
    """The bundled sample photo (JPEG)."""
    return FileResponse(DEMO_IMAGE, media_type="image/jpeg")


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    """Swagger UI from the vendored files (no CDN: works offline)."""
    return get_swagger_ui_html(openapi_url="openapi.json", title="prnet serve - API",
                               swagger_js_url=f"{_SWAGGER}/swagger-ui-bundle.js",
                               swagger_css_url=f"{_SWAGGER}/swagger-ui.css",
                               swagger_favicon_url=f"{_SWAGGER}/favicon-32x32.png",
                               swagger_ui_parameters={"validatorUrl": None})
