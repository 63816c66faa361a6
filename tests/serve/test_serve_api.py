"""The endpoints of ``prnet serve`` and their answers, against the Python API."""

from __future__ import annotations

import io
import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image


def files(data: bytes, name: str = "image", content_type: str = "image/jpeg") -> dict:
    return {name: ("photo.jpg", data, content_type)}


def test_health(client):
    from prnet.models.weights import DEFAULT_MODEL, weights_sha256

    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["model"] == DEFAULT_MODEL
    assert body["sha256"] == weights_sha256(DEFAULT_MODEL, None)
    assert body["device"] == "cpu"


def test_reconstruct_json_is_the_cli_record(client, prn, photo):
    from prnet.outputs.schema import SCHEMA_VERSION, image_record

    r = client.post("/v1/reconstruct", files=files(photo))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    expected = image_record(prn.reconstruct(photo), image_shape=(512, 512))
    assert body["schema"] == SCHEMA_VERSION and len(body["faces"]) == 1
    face = body["faces"][0]
    assert set(face) >= {"box", "score", "landmarks", "landmark_visibility", "pose"}
    assert np.asarray(face["landmarks"]).shape == (68, 3)
    np.testing.assert_allclose(face["landmarks"], expected["faces"][0]["landmarks"], atol=1e-3)
    assert body == expected


def test_concurrent_requests_get_the_python_api_answer(make_client, prn, photo):
    """16 requests at once share network calls and each gets PRN().reconstruct's landmarks."""
    from prnet.outputs.schema import face_record

    want = face_record(prn.reconstruct(photo)[0])["landmarks"]
    with make_client(max_batch=16, batch_wait_ms=50) as c:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: c.post("/v1/reconstruct", files=files(photo)),
                                    range(16)))
        metrics = c.get("/metrics").text
    assert [r.status_code for r in answers] == [200] * 16
    for r in answers:
        np.testing.assert_allclose(r.json()["faces"][0]["landmarks"], want, atol=1e-3)
        assert r.json() == answers[0].json()
    calls = int(re.search(r"^prnet_network_calls_total (\d+)$", metrics, re.MULTILINE).group(1))
    assert 1 <= calls <= 16


def test_glb_of_a_face(client, photo):
    import trimesh

    r = client.post("/v1/reconstruct?format=glb&face=0", files=files(photo))
    assert r.status_code == 200 and r.headers["content-type"] == "model/gltf-binary"
    magic, version, length = np.frombuffer(r.content[:12], "<u4")
    assert (magic, version, length) == (0x46546C67, 2, len(r.content))
    mesh = trimesh.load(io.BytesIO(r.content), file_type="glb", force="mesh")
    assert len(mesh.vertices) > 1000 and len(mesh.faces) > 1000


@pytest.mark.parametrize("fmt, media, check", [
    ("obj", "model/obj", lambda b: b.startswith(b"v ") or b"\nv " in b[:4096]),
    ("ply", "application/octet-stream", lambda b: b.startswith(b"ply\n")),
    ("depth", "image/png", lambda b: Image.open(io.BytesIO(b)).format == "PNG"),
    ("texture", "image/png", lambda b: Image.open(io.BytesIO(b)).size == (256, 256)),
])
def test_file_formats(client, photo, fmt, media, check):
    r = client.post(f"/v1/reconstruct?format={fmt}", files=files(photo))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == media
    assert 'filename="image_0' in r.headers["content-disposition"]
    assert check(r.content)


def test_depth_comes_with_its_encoding(client, prn, photo):
    from prnet.outputs import ExportOptions
    from prnet.outputs.schema import image_record

    r = client.post("/v1/reconstruct?format=depth", files=files(photo))
    record = image_record(prn.reconstruct(photo), options=ExportOptions.from_names(["depth"]))
    face = record["faces"][0]
    assert json.loads(r.headers["x-region"]) == face["region"]
    assert json.loads(r.headers["x-depth-encoding"]) == face["depth_encoding"]
    png = np.asarray(Image.open(io.BytesIO(r.content)))
    assert png.shape == (face["region"][3], face["region"][2]) and png.max() > 0


def test_zip_of_chosen_outputs(client, photo):
    r = client.post("/v1/reconstruct?format=zip&outputs=obj,kpt", files=files(photo))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert names == ["image_0.obj", "image_0_kpt.txt", "image_0_kpt.json", "image.json"]
    record = json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("image.json"))
    assert record["options"]["outputs"] == ["obj", "kpt"]


def test_boxes_skip_the_detector(client, prn, photo):
    box = prn.reconstruct(photo)[0].box.tolist()
    r = client.post("/v1/reconstruct", params={"boxes": json.dumps([box, box])},
                    files=files(photo))
    assert r.status_code == 200
    faces = r.json()["faces"]
    assert len(faces) == 2 and faces[0]["score"] == 1.0


def test_json_of_one_face_and_missing_faces(client, photo, blank_png):
    assert len(client.post("/v1/reconstruct?face=0", files=files(photo)).json()["faces"]) == 1
    r = client.post("/v1/reconstruct?face=3", files=files(photo))
    assert r.status_code == 404 and r.json()["error"] == "no_such_face"
    blank = files(blank_png, content_type="image/png")
    assert client.post("/v1/reconstruct", files=blank).json()["faces"] == []
    r = client.post("/v1/reconstruct?format=glb", files=blank)
    assert r.status_code == 404 and "0 face(s)" in r.json()["message"]


def test_swap(client, photo, blank_png):
    for mode in ("face", "eyes"):
        r = client.post(f"/v1/swap?mode={mode}", files={
            "source": ("a.jpg", photo, "image/jpeg"), "reference": ("b.jpg", photo, "image/jpeg")})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(r.content)).size == (512, 512)
    r = client.post("/v1/swap", files={"source": ("a.jpg", photo, "image/jpeg"),
                                       "reference": ("b.png", blank_png, "image/png")})
    assert r.status_code == 422 and r.json() == {"error": "no_face",
                                                 "message": "no face found in reference"}


def test_swap_matches_the_python_api(client, prn, photo):
    from prnet.apps.swap import swap_all_faces
    from prnet.io import read_image

    img = read_image(photo)
    faces = prn.reconstruct(img)
    want = swap_all_faces(img, faces, img, faces[0], mode="eyes").image
    r = client.post("/v1/swap?mode=eyes", files={
        "source": ("a.jpg", photo, "image/jpeg"), "reference": ("b.jpg", photo, "image/jpeg")})
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")), want)


def test_demo_image_index_and_static(client, photo):
    r = client.get("/v1/demo-image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == photo
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    lic = client.get("/static/vendor/swagger-ui/LICENSE")
    assert lic.status_code == 200 and "Apache License" in lic.text
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/nothing.js"):
        r = client.get(path)
        assert r.status_code == 404 and "import" not in r.text


def test_index_without_the_viewer(client, monkeypatch, tmp_path):
    from prnet.serve import routes_meta

    monkeypatch.setattr(routes_meta, "STATIC_DIR", tmp_path)
    r = client.get("/")
    assert r.status_code == 200 and "viewer is not installed" in r.text


def test_docs_work_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"https?://", page.text), "the docs page must not load from a CDN"
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:  # relative to /docs (so that a path prefix in a proxy keeps working)
        assert not asset.startswith("/")
        assert client.get(f"/{asset}").status_code == 200, asset
    assert "'openapi.json'" in page.text or '"openapi.json"' in page.text
    schema = client.get("/openapi.json").json()
    assert {"/v1/reconstruct", "/v1/swap", "/health"} <= set(schema["paths"])
    assert client.get("/redoc").status_code == 404


def test_metrics(client, photo):
    client.post("/v1/reconstruct", files=files(photo))
    client.get("/no/such/route")
    text = client.get("/metrics").text

    def has(pattern: str) -> bool:
        return re.search(pattern, text, re.MULTILINE) is not None

    assert has(r'^prnet_requests_total\{route="/v1/reconstruct",status="200"\} [1-9]')
    assert has(r'^prnet_requests_total\{route="unmatched",status="404"\} [1-9]')
    assert 'prnet_request_duration_seconds_bucket{route="/v1/reconstruct",le="+Inf"}' in text
    assert has(r"^prnet_faces_total [1-9]")
    assert has(r'^prnet_errors_total\{code="not_found"\} [1-9]')
    assert has(r"^prnet_queue_depth 0$")
