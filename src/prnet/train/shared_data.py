"""Where the training inputs sit inside the shared data folder, and one-line checks of them."""

from __future__ import annotations

from pathlib import Path

from prnet.errors import AssetMissingError, PRNetError

AFLW_TRAIN = Path("data/aflw-train")
FACES_EXTRA = Path("data/faces-extra/images")
AFLW2000_DEV = Path("data/aflw2000-3d-dev")
TEACHER = Path("teacher/3ddfa_v2")


def require(shared: str | Path, *parts: Path) -> list[Path]:
    """``shared / part`` for each part, after checking that each exists.

    Raises:
        AssetMissingError: one names the first missing path and the flag to fix.
    """
    root = Path(shared)
    if not root.is_dir():
        raise AssetMissingError(f"--shared {root}: not a folder")
    paths = [root / p for p in parts]
    for p in paths:
        if not p.exists():
            raise AssetMissingError(f"--shared {root}: {p} is missing")
    return paths


def check_limit(name: str, value: int | None) -> None:
    """Raise :class:`PRNetError` unless ``value`` is None or a positive count."""
    if value is not None and value < 1:
        raise PRNetError(f"--{name} {value}: expected a positive number")
