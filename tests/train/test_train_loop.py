"""End to end on a tiny pack: `prnet train labels` → `pack` → `fit` (CPU, 2 steps) → resume."""

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
    out = _run("-m", "prnet", "train", "labels", "--shared", str(shared_dir), "--out",
               str(pack / "labels.npz"), "--limit", "24")
    assert "21-point error" in out and "24 faces" in out
    out = _run("-m", "prnet", "train", "pack", "--shared", str(shared_dir), "--labels",
               str(pack / "labels.npz"), "--out", str(pack), "--dev-limit", "6")
    assert "24 training faces, 6 dev images" in out
    common = ["--pack", str(pack), "--minutes", "5", "--max-steps", "2", "--batch", "2", "--dev-limit", "4",
              "--device", "cpu", "--amp", "none", "--channels-last", "false", "--eval-every-min", "100"]
    run1 = tmp_path / "run1"
    _run("-m", "prnet", "train", "fit", "--out", str(run1), *common)
    for f in ("model.safetensors", "state.pt", "config.json", "log.csv", "metrics.json"):
        assert (run1 / f).exists(), f
    m1 = json.loads((run1 / "metrics.json").read_text())
    assert m1["samples_seen"] == 4 and 0 < m1["nme2d_balanced"] < 100
    cfg = json.loads((run1 / "config.json").read_text())
    assert cfg["batch"] == 2 and cfg["model"] == "mobilenet_unet"
    run2 = tmp_path / "run2"
    _run("-m", "prnet", "train", "fit", "--out", str(run2), "--resume", str(run1), "--init", "none", *common)
    m2 = json.loads((run2 / "metrics.json").read_text())
    assert m2["samples_seen"] == 8  # counters continue from the checkpoint
    # with a moving average of the weights: the average is model.safetensors, the optimised
    # weights raw.safetensors, and a resumed run continues both
    from safetensors.torch import load_file

    run3, run4 = tmp_path / "run3", tmp_path / "run4"
    _run("-m", "prnet", "train", "fit", "--out", str(run3), "--ema", "0.9", "--lr", "1e-2", *common)
    m3 = json.loads((run3 / "metrics.json").read_text())
    assert 0 < m3["nme2d_balanced"] < 100 and 0 < m3["raw_nme2d_balanced"] < 100
    avg, raw = load_file(str(run3 / "model.safetensors")), load_file(str(run3 / "raw.safetensors"))
    assert avg.keys() == raw.keys() and any(not avg[k].equal(raw[k]) for k in avg)
    _run("-m", "prnet", "train", "fit", "--out", str(run4), "--resume", str(run3), "--init", "none", "--ema", "0.9",
         *common)
    m4 = json.loads((run4 / "metrics.json").read_text())
    assert m4["samples_seen"] == 8 and "raw_nme2d_balanced" in m4
    # progressive resizing: the original network trained at 64², evaluated at 256²
    run5 = tmp_path / "run5"
    _run("-m", "prnet", "train", "fit", "--out", str(run5), "--model", "resfcn256", "--init", "none",
         "--size", "64", *common)
    m5 = json.loads((run5 / "metrics.json").read_text())
    assert m5["samples_seen"] == 4 and 0 < m5["nme2d_balanced"] < 100
    assert json.loads((run5 / "config.json").read_text())["size"] == 64


def test_weight_ema_averages_weights_and_copies_counters():
    import torch

    from prnet.train.loop import WeightEMA

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    ema = WeightEMA(model, decay=0.5)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(4.0)
        model[1].num_batches_tracked.fill_(7)
    ema.update(model)  # first update: decay min(0.5, 2/11) = 2/11
    d = 2 / 11
    got = ema.model.state_dict()
    for k in ("0.weight", "0.bias", "1.weight"):
        assert torch.allclose(got[k], start[k] + (1 - d), atol=1e-6), k
    assert torch.allclose(got["1.running_mean"], start["1.running_mean"] * d + 4.0 * (1 - d))
    assert int(got["1.num_batches_tracked"]) == 7
    for _ in range(200):
        ema.update(model)
    assert torch.allclose(got["0.weight"], model[0].weight, atol=1e-5)  # converges to constant weights
    assert not any(p.requires_grad for p in ema.model.parameters()) and not ema.model.training


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


@pytest.mark.parametrize("flags, message", [
    ({"pack": "{tmp}/nowhere"}, "no train.npz or renderer.npz there"),
    ({"model": "vgg"}, "--model vgg: unknown"),
    ({"resume": "{tmp}/nowhere"}, "--resume .*: no model.safetensors there"),
    ({"init": "teacher"}, "teacher_encoder.safetensors is missing"),
    ({"init": "{tmp}/none.safetensors"}, "--init .*: no such file"),
    ({"labels": "gt"}, "--labels gt: use one of refined, teacher"),
    ({"amp": "int8"}, "--amp int8"),
    ({"batch": 0}, "--batch 0: must be within"),
    ({"ema": 1.0}, "--ema 1.0: must be within"),
    ({"flip": 1.5}, "--flip 1.5: must be within"),
    ({"device": "tpu:x"}, "--device tpu:x: not a torch device"),
    ({"size": 100}, "--size 100: use 64, 128 or 256"),
    ({"size": 128}, "--size 128: mobilenet_unet adds its output to the 256×256 mean"),
])
def test_bad_configs_fail_before_any_work(tmp_path, flags, message):
    from prnet.errors import PRNetError
    from prnet.train.config import TrainConfig, check_config

    pack = tmp_path / "pack"
    pack.mkdir()
    for f in ("train.npz", "renderer.npz"):
        (pack / f).write_bytes(b"")
    base = {"pack": str(pack), "init": "none", "device": "cpu"}
    base.update({k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in flags.items()})
    with pytest.raises(PRNetError, match=message):
        check_config(TrainConfig(**base))
    check_config(TrainConfig(pack=str(pack), init="none", device="cpu"))  # the defaults pass


def test_train_config_file_errors_are_one_line(tmp_path, capsys):
    from prnet.cli import main

    bad = tmp_path / "bad.json"
    for text, message in [('{"batchsize": 4}', "unknown keys ['batchsize']"),
                          ("[1, 2]", "not a JSON object"), ("{not json", "Expecting property name")]:
        bad.write_text(text)
        assert main(["train", "fit", "--config", str(bad)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("prnet: error: --config") and message in err and err.count("\n") == 1
