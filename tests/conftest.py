"""Shared fixtures. Tests that need ../shared (third-party data) skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PRNET_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (or $PRNET_SHARED); skips the test when it is not there."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"needs the project's shared data folder ({SHARED}), absent here")
    return SHARED


@pytest.fixture(scope="session")
def bfm():
    """The BFM from the cache; skips when it is not cached (fetch: `prnet bfm fetch`)."""
    from prnet.bfm import bfm_cache_dir, load_bfm

    if not (bfm_cache_dir() / "w_shp_sim.npy").exists():
        pytest.skip("needs the BFM in the cache: run `prnet bfm fetch`")
    return load_bfm(fetch=False)


@pytest.fixture(scope="session")
def prn():
    """A CPU PRN with the bundled weights."""
    from prnet import PRN

    return PRN(device="cpu")


@pytest.fixture(scope="session")
def sample_image_path() -> Path:
    return REPO / "src" / "prnet" / "assets" / "astronaut.jpg"
