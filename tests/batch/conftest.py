"""A small generated image set for ``prnet batch``: the bundled sample image copied, flipped
and resized under a temporary folder, plus a faceless image and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_data import make_variants
from PIL import Image


@pytest.fixture(scope="session")
def batch_images(sample_image_path, tmp_path_factory) -> Path:
    """The folder of :data:`EXPECTED`."""
    folder = tmp_path_factory.mktemp("batch_in")
    make_variants(sample_image_path, folder)
    return folder


@pytest.fixture(scope="session")
def many_images(sample_image_path, tmp_path_factory) -> Path:
    """24 small face images (the sample resized, some flipped) and 2 bad files, for the
    crash-and-resume test."""
    folder = tmp_path_factory.mktemp("batch_many")
    img = Image.open(sample_image_path).convert("RGB")
    for i in range(24):
        side = 160 + 8 * i
        im = img.resize((side, side), Image.Resampling.BILINEAR)
        if i % 3 == 1:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        im.save(folder / f"face_{i:02d}.jpg", quality=92)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(sample_image_path.read_bytes()[:2500])
    return folder
