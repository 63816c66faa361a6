"""``prnet train labels|labels-extra|pack|fit``: the training steps behind one command.

``fit``: flags (or a JSON config) → :class:`TrainConfig` → :func:`prnet.train.loop.train`.
``prnet train --pack ...`` (no step) still runs ``fit``, with a deprecation warning.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import fields

from prnet.errors import PRNetError
from prnet.models import list_models
from prnet.train.config import TrainConfig

HELP = {
    "pack": "data pack folder (`prnet train pack`)",
    "out": "output folder: model.safetensors (+ raw.safetensors with --ema), state.pt, config.json, "
           "log.csv, metrics.json",
    "model": "registered network",
    "init": "teacher (encoder from the 3DDFA_V2 teacher) | none | a model.safetensors; weights of "
            "mobilenet_unet into mobilenet_unet_wide are widened without changing the output",
    "resume": "folder of an earlier run: continue its weights, optimizer, counters (and moving average)",
    "labels": "refined (teacher fits refined against the 21 AFLW points) | teacher",
    "minutes": "training time budget; the cosine learning-rate schedule spans it",
    "max_steps": "stop after this many steps (tests, rehearsals)",
    "batch": "batch size",
    "lr": "peak learning rate (AdamW)",
    "weight_decay": "AdamW weight decay",
    "warmup_steps": "linear warm-up steps",
    "flip": "probability of a horizontal flip (image and position map)",
    "reflect_pad": "share of crops padded by mirroring instead of zeros",
    "kpt_weight": "extra loss weight of the 68 landmark texels, on top of the UV weight mask",
    "size": "training resolution of the input crops and position maps: 128 (or 64) makes steps "
            "~4x (16x) cheaper for a fully convolutional network (resfcn256) — progressive "
            "resizing: continue at 256 with --init; dev evaluation is always at 256",
    "freeze_bn": "keep BatchNorm statistics fixed (true for small-batch CPU fine-tuning)",
    "eval_every_min": "minutes between dev evaluations (each also writes a checkpoint)",
    "dev_limit": "evaluate only the first N dev images",
    "amp": "bf16 | fp16 | none: autocast on CUDA; on the CPU bf16 where the processor has it natively "
           "(AVX512-BF16/AMX: several times faster), otherwise fp32",
    "channels_last": "channels-last memory format (true/false)",
    "ema": "decay of an exponential moving average of the weights (e.g. 0.999); the average is "
           "evaluated and saved as model.safetensors, the optimised weights as raw.safetensors; 0 = off",
    "compile": "torch.compile the training forward; falls back to eager if compiling fails",
    "device": "cuda | cpu (default: cuda when available)",
    "seed": "seed of the sample order and augmentation",
}


INSTALL_HINT = 'pip install "prnet[train]"'

# step → (module under prnet.train with add_arguments(p) and run(args), help)
STEPS: dict[str, tuple[str, str]] = {
    "labels": ("aflw_labels", ("pseudo-label the AFLW training faces: teacher fits refined "
                               "against their 21 annotated points")),
    "labels-extra": ("extra_labels", ("pseudo-label the faces-extra photos: detector + model "
                                      "frame a teacher crop, the teacher fits it")),
    "pack": ("pack", ("build the compact training pack (crops, labels, dev split, renderer "
                      "arrays, teacher encoder)")),
}


def add_fit_arguments(p: argparse.ArgumentParser, hidden: bool = False) -> None:
    """The flags of ``prnet train fit`` (``hidden``: accepted but not listed, for the old alias)."""
    default = argparse.SUPPRESS if hidden else None
    p.add_argument("--config", default=default, help=argparse.SUPPRESS if hidden else
                   "JSON file with TrainConfig fields (flags override it)")
    for f in fields(TrainConfig):
        if f.name == "extra":
            continue
        kind = {"int": int, "float": float, "bool": _bool}.get(str(f.type).split(" ")[0], str)
        if f.type in ("int | None", "str | None"):
            kind = int if f.type.startswith("int") else str
        text = HELP[f.name] + (f": {', '.join(list_models())}" if f.name == "model" else "")
        if f.default is not None and f.name != "device":
            text += f" (default: {f.default})"
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=default,
                       metavar=f.name.upper(), help=argparse.SUPPRESS if hidden else text)


add_arguments = add_fit_arguments  # the former name


def add_commands(p: argparse.ArgumentParser) -> None:
    """Add the steps (``labels``, ``labels-extra``, ``pack``, ``fit``) to the ``train`` parser."""
    steps = p.add_subparsers(dest="train_step", metavar="STEP")
    for name, (module, help_text) in STEPS.items():
        mod = importlib.import_module(f"prnet.train.{module}")
        sp = steps.add_parser(name, help=help_text, description=_plain(mod.__doc__ or help_text),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(sp)
        sp.set_defaults(func=needs_train_extra(mod.run))
    fit = steps.add_parser("fit", help="train a position-map network on a pack for --minutes",
                           description="Train for --minutes on a pack built by `prnet train labels` + "
                           "`prnet train pack`; writes weights, logs and dev metrics to --out.")
    add_fit_arguments(fit)
    fit.set_defaults(func=needs_train_extra(run))
    add_fit_arguments(p, hidden=True)  # `prnet train --pack ...`: the old form of `fit`
    p.set_defaults(func=lambda args: _run_without_step(p, args))


def _plain(doc: str) -> str:
    """A module docstring as help text: reST roles and double backquotes simplified."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", doc).replace("``", "`").strip()


def _run_without_step(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    names = {f.name for f in fields(TrainConfig)} | {"config"}
    if not names & set(vars(args)):
        parser.print_help()
        return 2
    print("prnet: warning: `prnet train --pack ...` is deprecated; use `prnet train fit --pack ...`",
          file=sys.stderr)
    return needs_train_extra(run)(args)


def needs_train_extra(step: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``step`` with a missing third-party module turned into one line naming the ``train`` extra."""
    def guarded(args: argparse.Namespace) -> int:
        try:
            return step(args)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] == "prnet":
                raise
            raise PRNetError(f"prnet train needs {exc.name}: {INSTALL_HINT}") from None
    return guarded


def _bool(s: str) -> bool:
    return s.lower() in ("1", "true", "yes", "on")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    base = {}
    if getattr(args, "config", None):
        try:
            with open(args.config) as fh:
                base = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise PRNetError(f"--config {args.config}: {exc}") from None
        if not isinstance(base, dict):
            raise PRNetError(f"--config {args.config}: not a JSON object of TrainConfig fields")
    names = {f.name for f in fields(TrainConfig)}
    unknown = set(base) - names
    if unknown:
        raise PRNetError(f"--config {args.config}: unknown keys {sorted(unknown)}")
    base.update({k: v for k, v in vars(args).items() if k in names and v is not None})
    return TrainConfig(**base)


def run(args: argparse.Namespace) -> int:
    from prnet.train.loop import train

    train(config_from_args(args))
    return 0
