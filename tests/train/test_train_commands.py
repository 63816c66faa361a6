"""`prnet train labels|labels-extra|pack|fit`: help, one-line errors, the deprecated alias, and
the pack format on a few faces of ../shared."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from prnet.cli import main


def _train_parser() -> argparse.ArgumentParser:
    from prnet.train.cli import add_commands

    p = argparse.ArgumentParser(prog="prnet train")
    add_commands(p)
    return p


def test_every_step_and_flag_has_help():
    p = _train_parser()
    steps = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    assert set(steps.choices) == {"labels", "labels-extra", "pack", "fit"}
    for name, sp in steps.choices.items():
        for action in sp._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)


def test_train_without_a_step_prints_help(capsys):
    assert main(["train"]) == 2
    assert "labels-extra" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["labels", "--shared", "{tmp}/nowhere"], "--shared {tmp}/nowhere: not a folder"),
    (["labels", "--shared", "{tmp}", "--limit", "0"], "--limit 0: expected a positive number"),
    (["labels", "--shared", "{tmp}"], "data/aflw-train/annotations.npz is missing"),
    (["labels-extra", "--shared", "{tmp}"], "data/faces-extra/images is missing"),
    (["pack", "--shared", "{tmp}", "--quality", "0"], "--quality 0: expected 1-100"),
    (["pack", "--shared", "{tmp}", "--dev-limit", "-1"], "--dev-limit -1: expected a positive number"),
    (["pack", "--shared", "{shared}", "--labels", "{tmp}/none.npz"], "--labels {tmp}/none.npz: no such file"),
    (["pack", "--shared", "{shared}", "--labels", "{tmp}/bad.npz"], "not a labels file (no teacher, refined)"),
    (["fit", "--pack", "{tmp}/nowhere"], "no train.npz or renderer.npz there"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    shared = tmp_path / "shared"
    for sub in ("data/aflw-train/images", "data/aflw2000-3d-dev", "teacher/3ddfa_v2"):
        (shared / sub).mkdir(parents=True)
    np.savez(tmp_path / "bad.npz", image=np.array(["a.jpg"]))
    fill = {"tmp": str(tmp_path), "shared": str(shared)}
    assert main(["train", *(a.format(**fill) for a in argv)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prnet: error: ") and message.format(**fill) in err and err.count("\n") == 1


def test_old_form_of_fit_still_works_with_a_warning(tmp_path, capsys):
    assert main(["train", "--pack", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "deprecated; use `prnet train fit --pack ...`" in err[0]
    assert "no train.npz or renderer.npz there" in err[1] and len(err) == 2


def test_missing_train_dependency_names_the_extra(monkeypatch, capsys):
    from prnet.train import pack

    def needs_a_missing_module(args):
        raise ModuleNotFoundError("No module named 'notinstalled'", name="notinstalled")

    monkeypatch.setattr(pack, "run", needs_a_missing_module)
    assert main(["train", "pack", "--shared", "x"]) == 1
    err = capsys.readouterr().err
    assert err == 'prnet: error: prnet train needs notinstalled: pip install "prnet[train]"\n'


@pytest.mark.shared
def test_labels_and_pack_write_the_pack_format(shared_dir, bfm, tmp_path, capsys):
    """A few faces through `labels` → `pack`: what prnet.train.data.load_pack and training read."""
    from prnet.train.data import decode_images, load_pack

    pack = tmp_path / "pack"
    assert main(["train", "labels", "--shared", str(shared_dir), "--out", str(pack / "labels.npz"),
                 "--limit", "4"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["train", "pack", "--shared", str(shared_dir), "--labels", str(pack / "labels.npz"),
                 "--out", str(pack), "--dev-limit", "2", "--teacher-labels"]) == 0
    assert "4 training faces, 2 dev images" in capsys.readouterr().out
    p = load_pack(pack)
    assert set(p) == {"labels", "train", "dev", "renderer"}
    assert (pack / "teacher_encoder.safetensors").is_file()
    t, d, lab = p["train"], p["dev"], p["labels"]
    assert set(t) == {"blob", "offsets", "params", "source", "teacher_params"}
    assert t["params"].shape == (4, 62) and t["params"].dtype == np.float32
    np.testing.assert_array_equal(t["params"], lab["refined"])
    np.testing.assert_array_equal(t["teacher_params"], lab["teacher"])
    assert t["source"].tolist() == [0] * 4 and t["offsets"].shape == (5,)
    assert decode_images(t["blob"], t["offsets"]).shape == (4, 120, 120, 3)
    assert set(d) == {"blob", "offsets", "M", "gt68", "yaw"} and d["gt68"].shape == (2, 68, 3)
    assert decode_images(d["blob"], d["offsets"]).shape == (2, 256, 256, 3)
    assert {"mean", "basis", "texel_bary"} <= set(p["renderer"])
