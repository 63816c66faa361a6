"""What the ``prnet`` command prints: one line per message, whatever the file names hold.

File names may hold bytes that are not UTF-8 (kept by Python as surrogate escapes); they are
shown with backslash escapes (``caf\\xe9.jpg``) so that printing never fails.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["oneline", "printable", "say", "tell"]


def printable(text: object) -> str:
    """``text`` (a path or a message) with undecodable bytes as ``\\xNN`` escapes and other
    unencodable characters as ``\\uNNNN``: safe to print on any terminal encoding."""
    s = os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    if isinstance(s, bytes):
        return s.decode("utf-8", "backslashreplace")
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that are not escapes of bytes
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def oneline(text: object) -> str:
    """:func:`printable`, with every run of white space (newlines too) made one space."""
    return " ".join(printable(text).split())


def _encodable(line: str, stream: TextIO) -> str:
    """``line`` as ``stream``'s encoding can write it (others characters backslash-escaped)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        line.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        try:
            return line.encode(encoding, "backslashreplace").decode(encoding, "replace")
        except LookupError:
            return line.encode("ascii", "backslashreplace").decode("ascii")
    return line


def say(msg: object) -> None:
    """One line on stderr (errors and warnings), without breaking a progress bar."""
    from tqdm import tqdm

    tqdm.write(_encodable(oneline(msg), sys.stderr), file=sys.stderr)


def tell(msg: object) -> None:
    """One line on stdout (results and summaries)."""
    print(_encodable(oneline(msg), sys.stdout), flush=True)
