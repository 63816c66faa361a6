"""The web viewer (``GET /`` of ``prnet serve``) in a real headless Chromium against a real
server process: the demo face in 3D, orbit controls, uploads, downloads, errors, face swap, and
no request leaving the server's origin.

Needs Chromium and Playwright (the ``chromium`` fixture skips without them) and the ``serve``
extra. A screenshot of ``/?demo=1`` is kept in ``$PRNET_TEST_ARTIFACTS`` (default
``tests/artifacts/``).
"""

from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from live_server import REPO, chromium_launch, running_server, wait_for_state
from PIL import Image

pytest.importorskip("fastapi", reason="prnet serve needs the serve extra: pip install -e .[serve]")
pytest.importorskip("uvicorn", reason="prnet serve needs the serve extra: pip install -e .[serve]")

ARTIFACTS = Path(os.environ.get("PRNET_TEST_ARTIFACTS", REPO / "tests" / "artifacts"))
SAMPLE = REPO / "src" / "prnet" / "assets" / "astronaut.jpg"
VIEWPORT = {"width": 1280, "height": 860}


@pytest.fixture(scope="module")
def server() -> str:
    with running_server() as url:
        yield url


class Watched:
    """A page whose console errors, uncaught exceptions and requests are recorded."""

    def __init__(self, page, origin: str) -> None:
        self.page, self.origin = page, origin
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: self.requests.append(r.url))

    def foreign_requests(self) -> list[str]:
        own = (f"{self.origin}/", f"blob:{self.origin}/", "data:")
        return [u for u in self.requests if not u.startswith(own)]

    def check(self, allowed_errors: tuple[str, ...] = ()) -> None:
        """No console error (but those containing one of ``allowed_errors``), no request
        outside the server's origin."""
        errors = [e for e in self.errors if not any(a in e for a in allowed_errors)]
        assert not errors, f"console errors: {errors}"
        assert self.requests, "no request recorded"
        assert not self.foreign_requests(), f"requests off the server: {self.foreign_requests()}"


@pytest.fixture
def viewer(chromium, server):
    context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    try:
        yield Watched(page, server)
    finally:
        context.close()


def canvas_pixels(page, selector: str = "#mesh-canvas") -> np.ndarray:
    """(H, W, 3) int RGB screenshot of one element."""
    png = page.locator(selector).screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels that differ by more than 8 levels in some channel."""
    return float(np.mean(np.abs(a - b).max(axis=2) > 8))


def two_face_photo(tmp_path: Path) -> Path:
    """The sample photo above its mirror image on a tall grey page (700 × 1200, the faces
    left of the centre): two faces, and a photo the page letterboxes."""
    img = np.asarray(Image.open(SAMPLE).convert("RGB"))
    page = np.full((1200, 700, 3), 128, np.uint8)
    page[:512, :512], page[512:1024, :512] = img, img[:, ::-1]
    path = tmp_path / "two_faces.png"
    Image.fromarray(page).save(path)
    return path


def test_demo_shows_a_textured_mesh_that_orbits_and_resets(viewer, server):
    page = viewer.page
    page.goto(f"{server}/?demo=1")
    wait_for_state(page)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer_demo.png"))

    assert page.text_content("#landmark-count") == "68"
    assert page.text_content("#face-count") == "1"
    assert page.locator("#error").is_hidden()
    for angle in ("yaw", "pitch", "roll"):
        assert page.text_content(f"#pose-{angle}").endswith("°")

    front = canvas_pixels(page)
    # not blank: the face covers a good part of the view, in many colours
    background = np.median(front.reshape(-1, 3), axis=0)
    face = np.abs(front - background).max(axis=2) > 24
    assert 0.1 < face.mean() < 0.9, face.mean()
    assert front[face].std() > 15

    box = page.locator("#mesh-canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 150, cy + 40, steps=8)
    page.mouse.up()
    turned = canvas_pixels(page)
    assert changed(front, turned) > 0.05

    page.click("#reset-view")
    assert changed(front, canvas_pixels(page)) < 0.01

    page.uncheck("#toggle-texture")
    grey = canvas_pixels(page)
    assert changed(front, grey) > 0.05
    assert grey[face].std(axis=1).mean() < front[face].std(axis=1).mean()  # less colourful
    distance = float(page.get_attribute("#mesh-canvas", "data-camera-distance"))
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -1000)  # zoomed in: the ~100K triangles are large enough to see through
    page.wait_for_function(f"() => document.getElementById('mesh-canvas').dataset"
                           f".cameraDistance < {0.8 * distance}")
    close = canvas_pixels(page)
    assert changed(grey, close) > 0.05
    page.check("#toggle-wireframe")
    assert changed(close, canvas_pixels(page)) > 0.05
    page.uncheck("#toggle-wireframe")
    page.check("#toggle-texture")
    page.click("#reset-view")
    assert changed(front, canvas_pixels(page)) < 0.01
    viewer.check()


def test_upload_draws_68_landmarks_per_face_and_switches_faces(viewer, server, tmp_path):
    page = viewer.page
    page.goto(server)
    page.set_input_files("#file-input", str(two_face_photo(tmp_path)))
    wait_for_state(page)

    assert page.text_content("#face-count") == "2"
    assert page.text_content("#landmark-count") == str(2 * 68)
    first = canvas_pixels(page)
    photo = canvas_pixels(page, "#photo-canvas")
    assert photo.std() > 20

    page.select_option("#face-select", "1")
    wait_for_state(page)
    # the mirrored face: a different mesh on screen
    assert changed(first, canvas_pixels(page)) > 0.05

    # a click inside face 0's box on the photo (scaled to fit, letterboxed) shows it again
    assert page.evaluate("() => { const r = document.getElementById('photo-canvas')"
                         ".getBoundingClientRect(); return r.width > r.height / 2 + 1; }")
    with page.expect_download() as info:
        page.click("#download-json")
    x0, y0, x1, y1 = json.loads(Path(info.value.path()).read_text())["faces"][0]["box"]
    left, top, scale = page.evaluate("""() => {
        const c = document.getElementById('photo-canvas'), r = c.getBoundingClientRect();
        const s = Math.min(r.width / c.width, r.height / c.height);
        return [r.left + (r.width - c.width * s) / 2, r.top + (r.height - c.height * s) / 2, s];
    }""")
    page.mouse.click(left + scale * (x0 + x1) / 2, top + scale * (y0 + y1) / 2)
    wait_for_state(page)
    assert page.input_value("#face-select") == "0"
    assert changed(first, canvas_pixels(page)) < 0.01
    viewer.check()


def test_exif_rotated_tiff_and_faceless_photos(viewer, server, tmp_path):
    page = viewer.page
    page.goto(server)
    # stored on its side, EXIF orientation 6: shown (and reconstructed) upright, 512 × 400
    upright = Image.open(SAMPLE).convert("RGB").crop((0, 0, 512, 400))
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(rotated, exif=exif.tobytes())
    page.set_input_files("#file-input", str(rotated))
    wait_for_state(page)
    assert page.text_content("#landmark-count") == "68"
    assert page.get_attribute("#photo-canvas", "data-photo-size") == "512x400"
    assert page.text_content("#status").startswith("512×400")

    # TIFF: the server reads it, Chromium cannot show it; the landmarks are drawn all the same
    tiff = tmp_path / "photo.tiff"
    Image.open(SAMPLE).save(tiff)
    page.set_input_files("#file-input", str(tiff))
    wait_for_state(page)
    assert page.text_content("#landmark-count") == "68"
    assert page.get_attribute("#photo-canvas", "data-photo-size") == ""

    blank = tmp_path / "blank.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(blank)
    page.set_input_files("#file-input", str(blank))
    wait_for_state(page, ("no-face",))
    assert page.text_content("#landmark-count") == "0"
    assert page.text_content("#face-count") == "0"
    assert page.locator("#error").is_hidden()
    assert page.is_disabled("#download-glb") and page.is_enabled("#download-json")
    assert canvas_pixels(page).std(axis=(0, 1)).max() < 1  # the previous face's mesh is gone
    viewer.check()


def test_downloads_are_the_selected_face(viewer, server, tmp_path):
    page = viewer.page
    page.goto(f"{server}/?demo=1")
    wait_for_state(page)

    with page.expect_download() as info:
        page.click("#download-glb")
    glb = tmp_path / info.value.suggested_filename
    info.value.save_as(glb)
    assert glb.suffix == ".glb"
    data = glb.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    chunk_len, chunk_type = struct.unpack_from("<I4s", data, 12)
    assert chunk_type == b"JSON"
    tree = json.loads(data[20:20 + chunk_len])
    assert tree["images"] and tree["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]
    trimesh = pytest.importorskip("trimesh")
    mesh = trimesh.load(glb, file_type="glb", force="mesh")
    assert len(mesh.vertices) > 10_000 and len(mesh.faces) > 10_000

    with page.expect_download() as info:
        page.click("#download-json")
    record = json.loads(Path(info.value.path()).read_text())
    assert record["schema"] == 1 and len(record["faces"]) == 1
    assert np.asarray(record["faces"][0]["landmarks"]).shape == (68, 3)

    for fmt, magic in (("obj", (b"PK", b"#", b"v ", b"mtllib")), ("ply", (b"PK", b"ply"))):
        with page.expect_download() as info:
            page.click(f"#download-{fmt}")
        body = Path(info.value.path()).read_bytes()
        assert body.startswith(magic), (fmt, body[:40])
        assert info.value.suggested_filename.endswith((f".{fmt}", ".zip"))
    assert page.locator("#error").is_hidden()
    viewer.check()


def test_an_api_error_is_one_line_in_the_page(viewer, server):
    page = viewer.page
    page.goto(server)
    page.set_input_files("#file-input", files=[{
        "name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo\nat all\n"}])
    wait_for_state(page, ("error",))

    error = page.locator("#error")
    assert error.is_visible()
    text = error.text_content()
    assert text.strip() and "\n" not in text
    line_height = page.evaluate(
        "() => parseFloat(getComputedStyle(document.getElementById('error')).lineHeight)")
    assert error.bounding_box()["height"] < 2.5 * line_height
    assert page.text_content("#landmark-count") == "0"
    # the browser logs the refused request itself; nothing else may fail
    viewer.check(allowed_errors=("Failed to load resource",))

    page.click("#demo-button")  # the page recovers, and the error line goes
    wait_for_state(page)
    assert error.is_hidden()


@pytest.mark.parametrize(("mode", "least_changed"), [("face", 0.005), ("eyes", 0.0002)])
def test_swap_tab_makes_an_image(viewer, server, tmp_path, mode, least_changed):
    page = viewer.page
    page.goto(server)
    page.click("#tab-swap")
    assert page.locator("#panel-swap").is_visible()
    assert page.locator("#panel-reconstruct").is_hidden()

    img = Image.open(SAMPLE).convert("RGB")
    reference = tmp_path / "mirrored.png"
    img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(reference)
    page.set_input_files("#swap-source", str(SAMPLE))
    page.set_input_files("#swap-reference", str(reference))
    page.select_option("#swap-mode", mode)
    page.click("#swap-run")
    page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.swapState)",
                           timeout=180_000)
    assert page.evaluate("document.body.dataset.swapState") == "ready", page.text_content("#error")
    size = page.evaluate("() => { const i = document.getElementById('swap-result');"
                         " return [i.naturalWidth, i.naturalHeight]; }")
    assert size == list(img.size)

    # the result is the source photo, partly changed
    with page.expect_download() as info:
        page.click("#swap-download")
    out = np.asarray(Image.open(info.value.path()).convert("RGB"), np.int16)
    diff = np.abs(out - np.asarray(img, np.int16)).max(axis=2) > 8
    # the same face mirrored: the eyes change ~150 pixels, the whole face ~2 % of the photo
    assert least_changed < diff.mean() < 0.3, diff.mean()
    assert page.locator("#error").is_hidden()
    viewer.check()

    if mode == "face":  # a reference without a face: one line, the last result stays
        blank = tmp_path / "blank.png"
        Image.new("RGB", (320, 240), (128, 128, 128)).save(blank)
        page.set_input_files("#swap-reference", str(blank))
        page.click("#swap-run")
        page.wait_for_function("() => document.body.dataset.swapState === 'error'",
                               timeout=180_000)
        assert "no face" in page.text_content("#error")
        assert page.is_visible("#swap-result")
        viewer.check(allowed_errors=("Failed to load resource",))


def test_the_page_sends_the_api_key_of_its_url(chromium):
    with running_server(("--api-key", "s3cret")) as url:
        context = chromium.new_context(viewport=VIEWPORT)
        try:
            viewer = Watched(context.new_page(), url)
            viewer.page.goto(f"{url}/?demo=1")  # no key: refused, in one line
            wait_for_state(viewer.page, ("error",))
            assert "X-API-Key" in viewer.page.text_content("#error")
            viewer.check(allowed_errors=("Failed to load resource",))

            viewer = Watched(context.new_page(), url)
            viewer.page.goto(f"{url}/?demo=1&key=s3cret")
            wait_for_state(viewer.page)
            assert viewer.page.text_content("#landmark-count") == "68"
            viewer.check()
        finally:
            context.close()


def test_a_dropped_photo_is_reconstructed(viewer, server):
    page = viewer.page
    page.goto(server)
    transfer = page.evaluate_handle("""async () => {
        const blob = await (await fetch('/v1/demo-image')).blob();
        const data = new DataTransfer();
        data.items.add(new File([blob], 'dropped.jpg', {type: 'image/jpeg'}));
        return data;
    }""")
    page.click("#tab-swap")  # dropped on the other tab: the page turns to the 3D view
    page.dispatch_event("#swap-form", "drop", {"dataTransfer": transfer})
    wait_for_state(page)
    assert page.is_visible("#panel-reconstruct")
    assert page.text_content("#landmark-count") == "68"
    with page.expect_download() as info:
        page.click("#download-json")
    assert info.value.suggested_filename == "dropped.json"
    viewer.check()


def y4m_video(path: Path, rgb: np.ndarray, frames: int = 3) -> Path:
    """A still Y4M clip of ``rgb`` (Chromium's fake camera plays it in a loop)."""
    import cv2

    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb[: h // 2 * 2, : w // 2 * 2]),
                        cv2.COLOR_RGB2YUV_I420)
    header = f"YUV4MPEG2 W{w // 2 * 2} H{h // 2 * 2} F30:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + i420.tobytes()) * frames)
    return path


def test_a_webcam_snapshot_is_reconstructed(chromium, server, tmp_path):
    clip = y4m_video(tmp_path / "camera.y4m", np.asarray(Image.open(SAMPLE).convert("RGB")))
    camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={clip}"]
    # a second browser of the same Playwright, with a fake camera playing the sample photo
    executable, args = chromium_launch()
    browser = chromium.browser_type.launch(executable_path=str(executable), args=args + camera)
    try:
        viewer = Watched(browser.new_page(viewport=VIEWPORT), server)
        page = viewer.page
        page.goto(server)
        page.click("#webcam-button")
        page.wait_for_function(
            "() => document.getElementById('webcam-video').videoWidth > 0", timeout=30_000)
        page.click("#webcam-snap")
        wait_for_state(page)
        assert page.locator("#webcam").is_hidden()
        assert page.text_content("#landmark-count") == "68"
        assert page.text_content("#status").startswith("512×512")
        viewer.check()
    finally:
        browser.close()


def test_the_page_works_under_a_path_prefix(viewer, server):
    """Behind a proxy that serves the app under /prnet/, every URL of the page stays there."""
    page = viewer.page
    prefix = f"{server}/prnet/"
    page.route(f"{prefix}**", lambda route: route.fulfill(
        response=route.fetch(url=server + "/" + route.request.url[len(prefix):])))
    page.goto(f"{prefix}?demo=1")
    wait_for_state(page)
    assert page.text_content("#landmark-count") == "68"
    viewer.check()
    http = [u for u in viewer.requests if u.startswith("http")]
    assert http and all(u.startswith(prefix) for u in http), http
