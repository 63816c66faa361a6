"""``prnet serve``: the real server in a subprocess, its options and the missing-extra line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from prnet.errors import PRNetError

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_answers_health():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "prnet", "--threads", "1", "serve",
                             "--device", "cpu", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body, deadline = None, time.monotonic() + 120  # a bound on start-up, not a measurement
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.2)
        assert body is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert body["status"] == "ok" and body["device"] == "cpu"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out


def test_bad_options_are_one_line(capsys):
    from prnet.cli import main

    assert main(["serve", "--port", "70000"]) == 1
    assert main(["serve", "--max-pixels", str(10**9)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["prnet: error: --port out of range: 70000",
                   "prnet: error: --max-pixels out of range: 1000000000 (at most 80000000)"]


def test_missing_extra_is_one_line(monkeypatch, capsys):
    from prnet.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed: import fails
    assert main(["serve", "--port", "8000"]) == 1
    assert capsys.readouterr().err.strip() == (
        'prnet: error: prnet serve needs the serve extra: pip install "prnet[serve]"')


def test_config_checks():
    from prnet.serve.config import ServeConfig, is_loopback

    assert ServeConfig().host == "127.0.0.1" and is_loopback(ServeConfig().host)
    assert not is_loopback("0.0.0.0") and is_loopback("::1") and is_loopback("localhost")
    assert ServeConfig(max_upload_mb=2).max_upload_bytes == 2 * 1024 * 1024
    for bad in ({"max_batch": 0}, {"workers": 0}, {"max_upload_mb": 0}, {"api_key": " "}):
        with pytest.raises(PRNetError):
            ServeConfig(**bad)
