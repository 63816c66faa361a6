"""Shared fixtures. Tests that need ../shared (third-party data) or the BFM skip when it is
absent — except under ``CI=true``, where a missing ../shared or BFM fails them loudly: CI always
has both, so a skip there would hide a broken setup.

Every test that uses ``shared_dir``, ``bfm`` or ``teacher_dir`` (directly or through another
fixture) is marked ``shared`` automatically (``pytest -m "not shared"`` runs the rest).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PRNET_SHARED", REPO.parent / "shared"))

#: Fixtures whose tests need ../shared or the BFM (these get the ``shared`` marker).
SHARED_FIXTURES = frozenset({"shared_dir", "bfm", "teacher_dir"})


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def missing(reason: str) -> None:
    """Skip the test for a missing data dependency — or fail it under ``CI=true``."""
    if in_ci():
        pytest.fail(f"CI=true: {reason} (CI must run every shared test, not skip it)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (or $PRNET_SHARED); skips the test when it is not there (fails under CI=true)."""
    if not (SHARED / "data").is_dir():
        missing(f"needs the project's shared data folder ({SHARED}), absent here")
    return SHARED


@pytest.fixture(scope="session")
def teacher_dir(shared_dir) -> Path:
    """The 3DDFA_V2 teacher in ../shared/teacher (skips / fails under CI=true when absent)."""
    teacher = shared_dir / "teacher" / "3ddfa_v2"
    if not (teacher / "weights" / "mb05_120x120.pth").is_file():
        missing(f"needs the 3DDFA_V2 teacher in {teacher}")
    return teacher


@pytest.fixture(scope="session")
def bfm():
    """The BFM from the cache; skips when it is not cached (fetch: `prnet bfm fetch`), fails
    under CI=true."""
    from prnet.bfm import bfm_cache_dir, load_bfm

    if not (bfm_cache_dir() / "w_shp_sim.npy").exists():
        missing("needs the BFM in the cache: run `prnet bfm fetch`")
    return load_bfm(fetch=False)


@pytest.fixture(scope="session")
def prn():
    """A CPU PRN with the bundled weights, network in torch (explicitly: the default backend,
    "auto", picks onnxruntime where it is installed; tests that hook ``prn.net`` need torch)."""
    from prnet import PRN

    return PRN(device="cpu", backend="torch")


@pytest.fixture(scope="session")
def sample_image_path() -> Path:
    return REPO / "src" / "prnet" / "assets" / "astronaut.jpg"


#: Debian's Chromium (``apt-get install -y chromium``), driven through Playwright; WebGL runs on
#: SwiftShader so that headless pages render 3D without a GPU.
CHROMIUM = Path(os.environ.get("PRNET_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox",
                 "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Playwright ``Browser``); skips when Chromium or Playwright is
    absent, and fails then under ``CI=true`` (``.ci/run`` installs both). Module-scoped:
    Playwright's sync API runs an event loop in the main thread while it is open, which would
    break later tests that call ``asyncio.run``."""
    if not CHROMIUM.exists():
        missing(f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        missing('playwright not installed (pip install -e ".[browser]")')
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
