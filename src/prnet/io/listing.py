"""Turn command-line inputs (files, folders, glob patterns) into the image files to read.

Nothing here raises for a bad input: every path that cannot be used is reported with a short
reason (``file not found``, ``file name too long``, ``permission denied``, ``not a regular
file``, ``broken symbolic link``, ``symbolic link loop``...), so that a front end can print
one line per bad input and go on with the others. File names are kept as the operating
system gives them (``str`` with undecodable bytes as surrogate escapes), so they round-trip
to the same bytes on disk.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["IMAGE_EXTENSIONS", "InputScan", "is_image_name", "path_problem", "scan_inputs"]

#: File extensions (lower case) treated as images when folders and globs are expanded.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")

_REASONS = {
    errno.ENOENT: "file not found",
    errno.ENAMETOOLONG: "file name too long",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "symbolic link loop",
    errno.ENOTDIR: "a folder in the path is a file",
}


def is_image_name(path: str | os.PathLike) -> bool:
    """Whether the file name ends with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


def _os_reason(e: OSError) -> str:
    return _REASONS.get(e.errno or -1) or " ".join(str(e.strerror or e).split()) or "error"


def path_problem(path: str | os.PathLike, *, folder_ok: bool = False) -> str | None:
    """Why ``path`` cannot be read as a file (``None`` when it is a readable regular file).

    Never opens the file (a FIFO or a device would block or never end) and never raises.
    With ``folder_ok`` a folder is no problem either.
    """
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ENOENT:
            try:
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    return "broken symbolic link"
            except OSError:
                pass
        return _os_reason(e)
    except ValueError:  # a NUL byte in the name
        return "invalid file name"
    if stat.S_ISDIR(st.st_mode):
        return None if folder_ok else "is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a FIFO, socket or device)"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


@dataclass
class InputScan:
    """What :func:`scan_inputs` found: images to read and the inputs it could not use."""

    images: list[Path] = field(default_factory=list)  #: sorted, without duplicates
    missing: list[str] = field(default_factory=list)  #: paths and globs that match nothing
    skipped: list[str] = field(default_factory=list)  #: named files without an image extension
    #: (path, reason) of inputs (or folders inside them) that exist but cannot be read
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    empty_folders: list[str] = field(default_factory=list)  #: folders given without any image


def _walk(folder: str, scan: InputScan) -> list[Path]:
    """Image files under ``folder`` (symbolic links to folders are not followed); folders
    that cannot be listed, and image-named entries that cannot be read (a FIFO, a broken
    link), are reported."""
    hits: list[Path] = []

    def onerror(e: OSError) -> None:
        scan.unreadable.append((e.filename or folder, f"cannot list folder: {_os_reason(e)}"))

    for root, dirs, files in os.walk(folder, onerror=onerror):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            p = os.path.join(root, name)
            if not is_image_name(name):
                continue
            problem = path_problem(p)
            if problem is None:
                hits.append(Path(p))
            elif problem != "is a directory, not a file":
                scan.unreadable.append((p, problem))
    return hits


def scan_inputs(paths: list[str | os.PathLike] | str | os.PathLike) -> InputScan:
    """Expand files, folders (recursively) and glob patterns into the image files to read.

    A file named explicitly is kept whatever its extension is (listed in ``skipped`` when it
    is not an image's); folders and globs keep files with an image extension only.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    scan = InputScan()
    found: dict[str, Path] = {}
    for item in paths:
        s = os.fspath(item)
        problem = path_problem(s, folder_ok=True)
        if problem is None and os.path.isdir(s):
            hits = _walk(s, scan)
            if not hits:
                scan.empty_folders.append(s)
        elif problem is None:
            if is_image_name(s):
                hits = [Path(s)]
            else:
                scan.skipped.append(s)
                continue
        elif problem == "file not found" and any(c in s for c in "*?["):
            hits = []
            for m in sorted(glob.glob(s, recursive=True)):
                if os.path.isdir(m):
                    hits += _walk(m, scan)
                elif is_image_name(m) and path_problem(m) is None:
                    hits.append(Path(m))
            if not hits:
                scan.missing.append(s)
        elif problem == "file not found":
            scan.missing.append(s)
            continue
        else:
            scan.unreadable.append((s, problem))
            continue
        for h in hits:
            found.setdefault(os.path.abspath(h), h)
    scan.images = sorted(found.values(), key=str)
    return scan
