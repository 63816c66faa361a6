"""Under CI=true a test that needs ../shared must fail, not skip (tests/conftest.py); elsewhere
it skips, and pytest lists the skip (-rs in pyproject.toml's addopts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# a cheap test that needs ../shared (and nothing else)
TARGET = "tests/geometry/test_pose.py::test_convention_matches_aflw2000_3d"


def _pytest(tmp_path: Path, ci: bool, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PRNET_SHARED"] = str(tmp_path / "no-shared-here")
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("ci", [False, True])
def test_missing_shared_skips_or_fails_under_ci(tmp_path, ci):
    res = _pytest(tmp_path, ci, TARGET)
    out = res.stdout + res.stderr
    if ci:
        assert res.returncode != 0, out[-2000:]
        assert "CI=true" in out and "no-shared-here" in out, out[-2000:]
    else:
        assert res.returncode == 0, out[-2000:]
        assert "SKIPPED" in out and "no-shared-here" in out, out[-2000:]  # -rs lists the skip


def test_tests_using_shared_fixtures_are_marked_shared(tmp_path):
    res = _pytest(tmp_path, False, "--collect-only", "-m", "shared", "tests/eval/test_eval_aflw2000.py",
                  "tests/test_postprocess_gt.py", "tests/eval/test_eval_bench.py")
    assert res.returncode == 0, res.stdout[-2000:]
    ids = [line for line in res.stdout.splitlines() if "::" in line]
    assert any("test_eval_detector_crop" in i for i in ids)  # via subset_dir → shared_dir
    assert any("test_pose_from_gt_posmap_matches_pose_para" in i for i in ids)  # via samples + bfm
    assert not any("test_eval_bench" in i for i in ids)  # needs neither
