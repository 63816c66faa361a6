"""The compact training data pack: crops (WebP/JPEG blobs), labels, dev split, renderer arrays.

Built from the shared data folder by ``prnet train pack`` (:mod:`prnet.train.pack`); small enough (< 60 MiB) to
carry to a GPU machine. Nothing in it may be committed (it derives from third-party data).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np


def encode_images(images: list[np.ndarray], ext: str = ".webp", quality: int = 75) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 images → one uint8 blob and (N+1,) offsets."""
    flag = cv2.IMWRITE_WEBP_QUALITY if ext == ".webp" else cv2.IMWRITE_JPEG_QUALITY
    bufs = [cv2.imencode(ext, im[..., ::-1], [flag, quality])[1].ravel() for im in images]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in bufs])]).astype(np.int64)
    return np.concatenate(bufs), offsets


def decode_images(blob: np.ndarray, offsets: np.ndarray, workers: int = 8) -> np.ndarray:
    """Inverse of :func:`encode_images` → (N, H, W, 3) RGB uint8 (all images the same size)."""
    def one(i: int) -> np.ndarray:
        return cv2.imdecode(blob[offsets[i] : offsets[i + 1]], cv2.IMREAD_COLOR)[..., ::-1]

    with ThreadPoolExecutor(workers) as ex:
        return np.stack(list(ex.map(one, range(len(offsets) - 1))))


def load_pack(folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Load every ``.npz`` of a pack folder into ``{name: {array name: array}}``."""
    out = {}
    for f in sorted(Path(folder).glob("*.npz")):
        with np.load(f, allow_pickle=False) as z:
            out[f.stem] = {k: z[k] for k in z.files}
    return out
