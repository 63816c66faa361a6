"""The generated image set of the ``prnet batch`` tests (imported by their conftest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

#: max_pixels of the jobs in these tests: big.png (700x700) is over it.
MAX_PIXELS = 400_000

#: name → expected status.
EXPECTED = {
    "a.jpg": "ok",
    "a_flip.jpg": "ok",
    "sub/a_small.png": "ok",
    "sub/deeper/a_copy.jpg": "ok",
    "blank.png": "no_face",
    "empty.jpg": "failed",
    "truncated.jpg": "failed",
    "not_an_image.jpg": "failed",
    "big.png": "failed",
}


def make_variants(sample: Path, folder: Path) -> None:
    img = Image.open(sample).convert("RGB")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    shutil.copy(sample, folder / "a.jpg")
    img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "a_flip.jpg", quality=95)
    img.resize((307, 307), Image.Resampling.BILINEAR).save(folder / "sub" / "a_small.png")
    shutil.copy(sample, folder / "sub" / "deeper" / "a_copy.jpg")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(90, 110, (120, 160, 3), dtype=np.uint8)).save(folder / "blank.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(sample.read_bytes()[:2500])
    (folder / "not_an_image.jpg").write_text("this is text, not a JPEG\n")
    img.resize((700, 700), Image.Resampling.BILINEAR).save(folder / "big.png")


#: The float columns and their tolerance: the JSON record's rounding step, since a run whose faces
#: went through the network in other batches or on other thread counts (a resumed job, two
#: workers of one thread) may differ by float noise that a rounding step turns into one step.
#: The camera matrix's last column is in image pixels: it gets the landmarks' pixel tolerance
#: (two workers moved it by 7e-4 to 1.2e-3 px).
FLOAT_COLUMNS = {"box": 0.01, "score": 1e-4, "landmarks": 0.01, "visible_fraction": 1e-4,
                 "yaw": 1e-3, "pitch": 1e-3, "roll": 1e-3, "camera_matrix": 0.01}


def _rows(table) -> dict[tuple[str, int], dict]:
    rows = table.to_pylist()
    keys = [(r["path"], r["face_index"]) for r in rows]
    assert len(keys) == len(set(keys)), "a (path, face_index) twice"
    return dict(zip(keys, rows, strict=True))


def assert_same_rows(a, b, atol: float = 1e-4) -> None:
    """Same rows (order aside): equal keys and values, floats within ``atol`` plus one rounding
    step of their column."""
    ra, rb = _rows(a), _rows(b)
    assert ra.keys() == rb.keys()
    for k, x in ra.items():
        y = rb[k]
        assert x.keys() == y.keys()
        for c in x:
            if c in FLOAT_COLUMNS and x[c] is not None:
                np.testing.assert_allclose(np.asarray(x[c], float), np.asarray(y[c], float),
                                           atol=atol + FLOAT_COLUMNS[c], err_msg=f"{k} {c}")
            else:
                assert x[c] == y[c], (k, c)
