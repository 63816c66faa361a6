"""The images a ``prnet`` command reads: inputs expanded, every unusable one reported as one
line on stderr naming it (the others are still processed)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from prnet.cli.messages import say

log = logging.getLogger(__name__)

__all__ = ["clear_stale_temporaries", "gather_images", "inside"]


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies under ``folder`` (both made absolute, not resolved)."""
    a, f = os.path.abspath(path), os.path.abspath(folder)
    return a.startswith(f.rstrip(os.sep) + os.sep)


def gather_images(paths: Sequence[str | os.PathLike], out_dir: Path) -> tuple[list[Path], int]:
    """The image files to read, and how many inputs could not be used (each reported).

    Files named explicitly are tried whatever their extension (the content decides). Files
    under ``out_dir`` (our own outputs, when it lies inside an input folder) are left out
    unless named. A folder given without any image gets a warning (when there are
    other images; else the caller reports that there is nothing to do).
    """
    from prnet.io.listing import scan_inputs

    scan = scan_inputs(paths)
    failed = 0
    for s in scan.missing:
        glob_like = any(c in s for c in "*?[")
        say(f"prnet: error: no image matches {s}" if glob_like
            else f"prnet: error: cannot read image {s}: file not found")
        failed += 1
    for s, why in scan.unreadable:
        say(f"prnet: error: cannot read image {s}: {why}")
        failed += 1
    images = sorted({*scan.images, *map(Path, scan.skipped)}, key=str)
    named = {os.path.abspath(os.fspath(s)) for s in paths}
    images = [p for p in images if not inside(p, out_dir) or os.path.abspath(p) in named]
    if images:  # otherwise the caller says that nothing was found
        for s in scan.empty_folders:
            say(f"prnet: warning: no image in folder {s}")
    return images, failed


def clear_stale_temporaries(folders: Iterable[Path]) -> None:
    """Remove the temporaries an interrupted run left in the folders a command writes to
    (:func:`prnet.io._atomic.remove_stale_temporaries`; each logged at debug level)."""
    from prnet.io._atomic import remove_stale_temporaries

    for folder in sorted(set(folders)):
        for tmp in remove_stale_temporaries(folder):
            log.debug("removed %s, left by an interrupted run", tmp)
