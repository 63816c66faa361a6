"""End to end on a tiny pack: labels → pack → `prnet train` (CPU, 2 steps) → resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    res = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                         check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.slow
def test_labels_pack_train_resume(shared_dir, bfm, tmp_path):
    pack = tmp_path / "pack"
    out = _run("scripts/make_labels.py", "--shared", str(shared_dir), "--out", str(pack / "labels.npz"),
               "--limit", "24")
    assert "21-point error" in out and "24 faces" in out
    out = _run("scripts/make_pack.py", "--shared", str(shared_dir), "--labels", str(pack / "labels.npz"),
               "--out", str(pack), "--dev-limit", "6")
    assert "24 training faces, 6 dev images" in out
    common = ["--pack", str(pack), "--minutes", "5", "--max-steps", "2", "--batch", "2", "--dev-limit", "4",
              "--device", "cpu", "--amp", "none", "--channels-last", "false", "--eval-every-min", "100"]
    run1 = tmp_path / "run1"
    _run("-m", "prnet", "train", "--out", str(run1), *common)
    for f in ("model.safetensors", "state.pt", "config.json", "log.csv", "metrics.json"):
        assert (run1 / f).exists(), f
    m1 = json.loads((run1 / "metrics.json").read_text())
    assert m1["samples_seen"] == 4 and 0 < m1["nme2d_balanced"] < 100
    cfg = json.loads((run1 / "config.json").read_text())
    assert cfg["batch"] == 2 and cfg["model"] == "mobilenet_unet"
    run2 = tmp_path / "run2"
    _run("-m", "prnet", "train", "--out", str(run2), "--resume", str(run1), "--init", "none", *common)
    m2 = json.loads((run2 / "metrics.json").read_text())
    assert m2["samples_seen"] == 8  # counters continue from the checkpoint


def test_freeze_bn_keeps_batchnorm_statistics():
    import torch

    from prnet.models import create_model
    from prnet.train.loop import TrainConfig, _train_mode

    x = torch.rand(2, 3, 256, 256)
    for freeze in (True, False):
        model = create_model("mobilenet_unet")
        _train_mode(model, TrainConfig(device="cpu", freeze_bn=freeze))
        bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        before = bn.running_mean.clone()
        model(x).mean().backward()
        assert model.training and bn.training is not freeze
        assert torch.equal(bn.running_mean, before) is freeze
        assert bn.weight.grad is not None  # the affine parameters still learn


def test_compiled_forward_falls_back_to_eager(capsys):
    import torch

    from prnet.train.loop import CompiledForward

    model = torch.nn.Linear(3, 2)
    x = torch.rand(4, 3)

    def broken_graph(m):
        def run(_):
            raise RuntimeError("inductor: no compiler")
        return run

    f = CompiledForward(model, broken_graph)
    assert torch.equal(f(x), model(x)) and f.compiled is None  # failed once → eager for good
    assert "training eagerly" in capsys.readouterr().out

    def no_compile(m):
        raise RuntimeError("compile unavailable")

    g = CompiledForward(model, no_compile)
    assert g.compiled is None and torch.equal(g(x), model(x))
    h = CompiledForward(model, lambda m: m)  # a working "compiler" is used
    assert h.compiled is model and torch.equal(h(x), model(x))


def test_compiled_forward_check_compiles_backward_and_restores_state():
    import contextlib

    import torch

    from prnet.train.loop import CompiledForward

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    before = {k: v.clone() for k, v in model.state_dict().items()}

    class FailsInBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise RuntimeError("backward graph did not compile")

    f = CompiledForward(model, lambda m: (lambda x: FailsInBackward.apply(m(x))))
    f.check(torch.rand(8, 3), contextlib.nullcontext())
    assert f.compiled is None  # fell back before the first real step
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN stats untouched
    assert all(p.grad is None for p in model.parameters())


def test_every_train_flag_is_documented():
    import argparse
    from dataclasses import fields

    from prnet.train.cli import HELP, add_arguments, config_from_args
    from prnet.train.loop import TrainConfig

    names = {f.name for f in fields(TrainConfig)} - {"extra"}
    assert names == set(HELP)
    p = argparse.ArgumentParser()
    add_arguments(p)
    text = p.format_help()
    assert "mobilenet_unet_wide" in text and "(default: 128)" in text
    cfg = config_from_args(p.parse_args(["--model", "mobilenet_unet_wide", "--compile", "true", "--batch", "4"]))
    assert cfg.model == "mobilenet_unet_wide" and cfg.compile is True and cfg.batch == 4
