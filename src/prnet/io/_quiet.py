"""Keep library chatter off the terminal while one input is handled.

Decoders and numerical code print warnings that name no file: Python warnings (numpy's
``RuntimeWarning``, Pillow's ``UserWarning``) and lines that C libraries write straight to
file descriptor 2 (libpng's ``iCCP: known incorrect sRGB profile``, OpenCV's ``[ WARN ]``).
:func:`quiet_warnings` and :func:`quiet_native_stderr` capture them and hand each one to the
debug log with the input's name (``prnet -v`` shows them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator

__all__ = ["quiet_native_stderr", "quiet_warnings"]

log = logging.getLogger("prnet.warnings")
_FD_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_warnings(name: str) -> Iterator[list[str]]:
    """Capture Python warnings raised inside the block; each is logged (debug) with ``name``.

    Yields the list the messages are appended to (one line each, filled at the end).
    """
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield messages
        finally:
            for w in caught:
                line = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
                if line not in messages:
                    messages.append(line)
                    log.debug("%s: %s", name, line)


@contextlib.contextmanager
def quiet_native_stderr(name: str) -> Iterator[list[str]]:
    """Redirect file descriptor 2 (what C libraries write to) into a buffer inside the block;
    each captured line is logged (debug) with ``name``. Only one thread redirects at a time;
    when descriptor 2 cannot be redirected the block runs unchanged."""
    lines: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield lines  # redirecting fd 2 is process-wide: only the main thread does it
        return
    with _FD_LOCK, tempfile.TemporaryFile() as buf:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield lines
            return
        try:
            os.dup2(buf.fileno(), 2)
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            buf.seek(0)
            text = buf.read().decode("utf-8", "backslashreplace")
            for line in (s.strip() for s in text.splitlines()):
                if line:
                    lines.append(line)
                    log.debug("%s: %s", name, line)
