"""Atomic file writing: write to a temporary file next to the target, then rename."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file in the target's directory; on success it replaces ``path``.

    The data are flushed and fsync-ed before ``os.replace``, so readers see either the old
    file or the complete new one, never a half-written file. On any exception the temporary
    file is removed and ``path`` is left untouched. Missing parent folders are created.

    Args:
        path: destination file.
        mode: ``"wb"`` (binary) or ``"w"`` (text, UTF-8, ``\\n`` line endings).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    # O_EXCL: never clobber; 0o666 lets the process umask decide the final permissions.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if mode == "w":
            f = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        else:
            f = os.fdopen(fd, "wb")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
