"""Fixtures of the HTTP service tests: the application on the session's CPU PRN."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install 'prnet[serve]'")
pytest.importorskip("httpx", reason="needs httpx (test extra) for fastapi.testclient")


@pytest.fixture(scope="session")
def photo(sample_image_path) -> bytes:
    """The bundled sample photo (one face), JPEG bytes."""
    return sample_image_path.read_bytes()


@pytest.fixture(scope="session")
def blank_png() -> bytes:
    """A plain grey 96x96 PNG (no face)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((96, 96, 3), 128, np.uint8)).save(buf, format="png")
    return buf.getvalue()


@pytest.fixture(scope="session")
def make_client(prn):
    """``make_client(**config)``: a started TestClient (context manager) on the session PRN."""
    from fastapi.testclient import TestClient

    from prnet.serve import ServeConfig, create_app

    def make(prn_override=None, **config):
        app = create_app(ServeConfig(**config), prn=prn_override or prn)
        return TestClient(app, raise_server_exceptions=False)

    return make


@pytest.fixture(scope="session")
def client(make_client):
    """A started client on the default configuration."""
    with make_client() as c:
        yield c

