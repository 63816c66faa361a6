"""Atomic file writing: write to a temporary file next to the target, then rename; and the
clean-up of temporaries that a killed process left behind.

Each file is fsync-ed before the rename unless ``$PRNET_FSYNC`` is ``0`` (``prnet --no-fsync``):
without it a file is still never half-written after a crash of the process, but the last files
before a power loss or a kernel crash may be lost.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

#: Environment variable: ``0``, ``false``, ``no`` or ``off`` skips the fsync of every written file.
FSYNC_ENV = "PRNET_FSYNC"


def fsync_enabled() -> bool:
    """Whether :func:`atomic_open` fsyncs (``$PRNET_FSYNC``; default on)."""
    return os.environ.get(FSYNC_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file in the target's directory; on success it replaces ``path``.

    The data are flushed (and fsync-ed, unless :func:`fsync_enabled` says otherwise) before
    ``os.replace``, so readers see either the old file or the complete new one, never a
    half-written file. On any exception the temporary
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
            if fsync_enabled():
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: Names :func:`atomic_open` gives its temporary files: ``.<name>.<pid>.<8 hex>.tmp``.
_TEMPORARY = re.compile(r"^\..+\.(\d{1,10})\.[0-9a-f]{8}\.tmp$", re.DOTALL)
#: A temporary older than this is stale whatever its process id says (the id may be reused).
STALE_AFTER_S = 30 * 60


def _pid_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():  # our own id: left by an earlier process with this id
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # exists (another user's) or cannot tell: keep it
    return True


def remove_stale_temporaries(folder: str | os.PathLike, *,
                             stale_after_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporary files an interrupted :func:`atomic_open` left in ``folder`` (a
    ``kill -9`` skips its clean-up): names of its pattern whose process is gone, or older
    than ``stale_after_s``. Other files, and sub-folders, are never touched. Call it before
    this process writes into ``folder``.

    Returns:
        The files removed (missing folder or unreadable entries: nothing, no error).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = _TEMPORARY.match(entry.name)
        if not m:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            old = now - entry.stat(follow_symlinks=False).st_mtime > stale_after_s
            if old or not _pid_alive(int(m.group(1))):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
