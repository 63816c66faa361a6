"""A real ``prnet serve`` process for browser tests and ``scripts/make_viewer_screenshot.py``:
``python -m prnet --threads 1 serve`` on a free local port, this checkout's ``src`` first on
``PYTHONPATH``, stopped on exit."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: How long the server may take to load the model and answer ``/health`` (2 shared CPU cores).
START_TIMEOUT_S = 180.0


def chromium_launch() -> tuple[Path, list[str]]:
    """The Chromium executable and flags of the ``chromium`` fixture (``tests/conftest.py``,
    loaded by path: ``conftest`` names a different module in each test folder)."""
    spec = importlib.util.spec_from_file_location("_prnet_tests_conftest",
                                                  REPO / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CHROMIUM, list(module.CHROMIUM_ARGS)


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_server(extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Start ``prnet serve``, wait until ``/health`` answers, yield its base URL
    (``http://127.0.0.1:<port>``), then stop it.

    Raises:
        RuntimeError: the server exits or does not answer within :data:`START_TIMEOUT_S`
            (with the end of its log).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "prnet", "--threads", "1", "serve", "--host", "127.0.0.1",
           "--port", str(port), *extra_args]
    with tempfile.TemporaryDirectory(prefix="prnet-serve-") as tmp:
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, cwd=tmp)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _healthy(url):
                if proc.poll() is not None:
                    raise RuntimeError(f"`{' '.join(cmd[1:])}` exited with status "
                                       f"{proc.returncode}:\n{_tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"`{' '.join(cmd[1:])}` did not answer /health within "
                                       f"{START_TIMEOUT_S:.0f} s:\n{_tail(log)}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_state(page, states: tuple[str, ...] = ("ready",), timeout_ms: float = 180_000) -> str:
    """Wait until the viewer's ``body[data-state]`` leaves ``busy`` for one of the final states
    (``ready``, ``no-face``, ``error``) and return it; ``states`` are the ones expected."""
    page.wait_for_function(
        "() => ['ready', 'no-face', 'error'].includes(document.body.dataset.state)",
        timeout=timeout_ms)
    state = page.evaluate("document.body.dataset.state")
    if state not in states:
        error = page.text_content("#error")
        raise AssertionError(f"viewer state {state!r}, expected one of {states}; #error: {error!r}")
    return state
