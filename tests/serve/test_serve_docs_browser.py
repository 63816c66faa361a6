"""``/docs`` in a real (headless) browser: Swagger UI renders from the package's own files,
with every request to this server (none to a CDN)."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install 'prnet[serve]'")
pytest.importorskip("httpx", reason="needs httpx (the test extra) for fastapi.testclient")

from live_server import free_port


@pytest.fixture(scope="module")
def live_url(prn):
    """The application on the session PRN, served by uvicorn on 127.0.0.1 in a thread."""
    import uvicorn

    from prnet.serve import ServeConfig, create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ServeConfig(), prn=prn), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a bound on start-up, not a measurement
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


def test_docs_render_offline(chromium, live_url):
    page = chromium.new_page()
    requested: list[str] = []

    def route(r):
        requested.append(r.request.url)
        if r.request.url.startswith(live_url):
            r.continue_()
        else:
            r.abort()  # offline: nothing outside the server

    page.route("**/*", route)
    try:
        page.goto(f"{live_url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=60_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
    finally:
        page.close()
    assert {"/v1/reconstruct", "/v1/swap", "/health"} <= {p.strip() for p in paths}
    assert [u for u in requested if not u.startswith(live_url)] == []
    assert f"{live_url}/openapi.json" in requested
