"""Without the serve extra (simulated by hiding uvicorn), ``prnet serve`` says what to install
in one line; importing prnet and its CLI never needs the extra."""

from __future__ import annotations

import subprocess
import sys


def test_missing_extra_is_one_line(monkeypatch, capsys):
    from prnet.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed: import fails
    assert main(["serve", "--port", "8000"]) == 1
    assert capsys.readouterr().err.strip() == (
        'prnet: error: prnet serve needs the serve extra: pip install "prnet[serve]"')


def test_the_cli_builds_without_fastapi():
    code = ("import sys; sys.modules['fastapi'] = sys.modules['uvicorn'] = None\n"
            "import prnet, prnet.cli; prnet.cli.build_parser(); print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.stdout.strip() == "ok", res.stderr
