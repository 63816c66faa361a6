"""Every error of the service: JSON {"error", "message"} with the right status, never a
traceback, and the server keeps serving after each."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest


def files(data: bytes, name: str = "image", content_type: str = "image/jpeg") -> dict:
    return {name: ("photo.jpg", data, content_type)}


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a few bytes of data: a decompression bomb's
    shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"}
    assert "\n" not in body["message"] and "Traceback" not in body["message"]
    if code is not None:
        assert body["error"] == code
    return body


def test_bad_images_are_400(client, photo):
    assert_error(client.post("/v1/reconstruct", files=files(b"")), 400)
    assert_error(client.post("/v1/reconstruct", files=files(b"hello, not an image")), 400)
    body = assert_error(client.post("/v1/reconstruct", files=files(photo[:2000])), 400)
    assert body["message"].startswith("cannot read image field 'image': ")


def test_pixel_limit_from_the_header_is_413(client, make_client, photo):
    body = assert_error(client.post("/v1/reconstruct",
                                    files=files(png_header(30000, 30000), content_type="image/png")),
                        413, "payload_too_large")
    assert "too large" in body["message"]
    with make_client(max_pixels=512 * 512 - 1) as c:  # the photo is 512x512
        assert_error(c.post("/v1/reconstruct", files=files(photo)), 413)


def test_upload_size_limit_is_413(make_client, photo):
    big = photo + b"\0" * (1024 * 1024)
    with make_client(max_upload_mb=1) as c:
        body = assert_error(c.post("/v1/reconstruct", files=files(big)), 413)
        assert "upload limit" in body["message"]
        # no Content-Length (chunked): cut off while reading
        boundary = "b0undary"
        parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
                 f"filename=\"x.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".encode(), big,
                 f"\r\n--{boundary}--\r\n".encode()]

        def stream():
            for p in parts:
                for i in range(0, len(p), 65536):
                    yield p[i:i + 65536]

        r = c.post("/v1/reconstruct", content=stream(),
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert_error(r, 413)
        assert c.post("/v1/reconstruct", files=files(photo)).status_code == 200


def test_content_types_are_415(client, photo):
    assert_error(client.post("/v1/reconstruct", files=files(photo, content_type="text/plain")),
                 415, "unsupported_media_type")
    assert_error(client.post("/v1/reconstruct", content=photo,
                             headers={"Content-Type": "image/jpeg"}), 415)
    assert_error(client.post("/v1/reconstruct", json={"image": "x"}), 415)
    # a generic binary part is accepted (curl -F sends it for unknown extensions)
    ok = client.post("/v1/reconstruct", files=files(photo, content_type="application/octet-stream"))
    assert ok.status_code == 200


@pytest.mark.parametrize("query", [
    "format=stl", "face=-1", "face=x", "boxes=[[1,2,3]]", "boxes=not-json",
    "boxes=[[300,300,100,100]]", "outputs=obj", "format=zip&outputs=nope", "boxes=[[1,2,3,true]]",
])
def test_bad_parameters_are_422(client, photo, query):
    assert_error(client.post(f"/v1/reconstruct?{query}", files=files(photo)), 422)


def test_missing_field_is_422(client, photo):
    body = assert_error(client.post("/v1/reconstruct", files=files(photo, name="picture")), 422,
                        "invalid_parameter")
    assert "image" in body["message"]
    assert_error(client.post("/v1/swap", files=files(photo, name="source")), 422)
    assert_error(client.post("/v1/swap?mode=nose", files={"source": ("a", photo, "image/jpeg"),
                                                          "reference": ("b", photo, "image/jpeg")}),
                 422)


def test_routes_and_methods(client):
    assert_error(client.get("/v2/reconstruct"), 404, "not_found")
    assert_error(client.get("/v1/reconstruct"), 405)
    assert_error(client.delete("/health"), 405)


def test_api_key(make_client, photo):
    with make_client(api_key="s3cret") as c:
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "s3cret"}):
            assert_error(c.post("/v1/reconstruct", files=files(photo), headers=headers), 401,
                         "unauthorized")
        assert_error(c.get("/metrics"), 401)
        for headers in ({"X-API-Key": "s3cret"}, {"Authorization": "Bearer s3cret"}):
            assert c.post("/v1/reconstruct", files=files(photo), headers=headers).status_code == 200
        for path in ("/health", "/", "/docs", "/openapi.json", "/v1/demo-image",
                     "/static/vendor/swagger-ui/LICENSE"):
            assert c.get(path).status_code == 200, path


class _GatedPRN:
    """The session PRN whose network waits for ``gate`` (to hold a request in progress)."""

    def __init__(self, prn):
        self._prn, self.gate, self.entered = prn, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self._prn, name)

    def predict_crops(self, crops):
        self.entered.set()
        self.gate.wait(60)
        return self._prn.predict_crops(crops)


def test_busy_server_is_503(make_client, prn, photo):
    gated = _GatedPRN(prn)
    with make_client(gated, max_pending=1) as c:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(c.post, "/v1/reconstruct", files=files(photo))
            assert gated.entered.wait(60)
            body = assert_error(c.post("/v1/reconstruct", files=files(photo)), 503, "service_busy")
            assert "busy" in body["message"]
            gated.gate.set()
            assert first.result().status_code == 200
        assert c.post("/v1/reconstruct", files=files(photo)).status_code == 200


class _BrokenPRN:
    """The session PRN whose post-processing fails unexpectedly (a bug, not a bad input)."""

    def __init__(self, prn):
        self._prn = prn

    def __getattr__(self, name):
        return getattr(self._prn, name)

    def faces(self, *args, **kwargs):
        raise RuntimeError("boom\nwith a second line")


def test_unexpected_error_is_500_without_traceback(make_client, prn, photo, caplog):
    with make_client(_BrokenPRN(prn)) as c:
        body = assert_error(c.post("/v1/reconstruct", files=files(photo)), 500, "internal_error")
        assert "boom" not in body["message"]
        assert c.get("/health").status_code == 200
    assert any("Traceback" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_reconstruction_error_is_500(make_client, prn, photo):
    class Collapsed(_BrokenPRN):
        def predict_crops(self, crops):
            return np.zeros((len(crops), 256, 256, 3), np.float32)

        def faces(self, *args, **kwargs):
            return self._prn.faces(*args, **kwargs)

    with make_client(Collapsed(prn)) as c:
        assert_error(c.post("/v1/reconstruct", files=files(photo)), 500)


def test_server_survives_every_bad_request(client, photo):
    bad = [files(b""), files(b"junk"), files(photo[:999]), files(photo, content_type="text/html"),
           files(png_header(30000, 30000), content_type="image/png")]
    for f in bad * 2:
        assert client.post("/v1/reconstruct", files=f).status_code in (400, 413, 415)
    r = client.post("/v1/reconstruct", files=files(photo))
    assert r.status_code == 200 and len(r.json()["faces"]) == 1
    assert client.get("/health").json()["status"] == "ok"
    buf = io.BytesIO(photo)
    assert client.post("/v1/swap", files={"source": ("a", buf, "image/jpeg"),
                                          "reference": ("b", b"", "image/jpeg")}).status_code == 400
