"""File naming shared by the output writers."""

from __future__ import annotations

from pathlib import Path


def named(base: Path, suffix: str) -> Path:
    """``<base><suffix>``: ``out/photo_0`` + ``_kpt.txt`` → ``out/photo_0_kpt.txt``."""
    return base.with_name(base.name + suffix)
