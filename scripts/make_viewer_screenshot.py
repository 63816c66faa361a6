"""Screenshot of the web viewer for the README (``docs/images/viewer.png``).

Starts ``prnet serve`` from this checkout and a headless Chromium exactly as the browser tests
do (``tests/serve/live_server.py``, ``tests/conftest.py``), opens ``/?demo=1``, turns the mesh
a little so that its relief shows, and writes a PNG of at most ``--max-kb`` (colours reduced
when the full-colour PNG is larger).

    python scripts/make_viewer_screenshot.py [-o docs/images/viewer.png]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "serve"))

from live_server import chromium_launch, running_server, wait_for_state


def png_under(shot: bytes, max_bytes: int) -> bytes:
    """``shot`` as is, or with fewer colours until it fits in ``max_bytes``."""
    if len(shot) <= max_bytes:
        return shot
    img = Image.open(io.BytesIO(shot)).convert("RGB")
    for colors in (256, 192, 128, 96, 64):
        buf = io.BytesIO()
        img.quantize(colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            buf, format="png", optimize=True)
        if buf.tell() <= max_bytes:
            return buf.getvalue()
    raise SystemExit(f"cannot fit the screenshot in {max_bytes} bytes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "images" / "viewer.png")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=780)
    ap.add_argument("--max-kb", type=int, default=290)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    with running_server() as url, sync_playwright() as pw:
        executable, flags = chromium_launch()
        browser = pw.chromium.launch(executable_path=str(executable), args=flags)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(f"{url}/?demo=1")
            wait_for_state(page)
            box = page.locator("#mesh-canvas").bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x - 45, y - 12, steps=6)  # a three-quarter view
            page.mouse.up()
            shot = page.screenshot()
        finally:
            browser.close()
    data = png_under(shot, args.max_kb * 1024)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"{args.output}: {len(data) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
