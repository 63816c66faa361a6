"""eval never imports train (train → eval is the one direction); the teacher baseline comes
from prnet.train and is passed in by the CLI."""

from __future__ import annotations

import subprocess
import sys


def test_eval_modules_do_not_import_train():
    code = ("import sys, prnet.eval.protocol, prnet.eval.aflw2000, prnet.eval.metrics, "
            "prnet.eval.report, prnet.cli.evaluate; "
            "bad = sorted(m for m in sys.modules if m.startswith('prnet.train')); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_teacher_baseline_needs_a_teacher_folder(tmp_path, capsys):
    from prnet.cli import main

    rc = main(["eval", "aflw2000", str(tmp_path), "--baseline", "teacher"])
    err = capsys.readouterr().err
    assert rc == 1 and "--baseline teacher needs --teacher-dir DIR" in err
    assert len(err.strip().splitlines()) == 1
