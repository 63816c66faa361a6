"""``prnet train``: flags (or a JSON config) → :class:`TrainConfig` → :func:`train`."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from prnet.train.loop import TrainConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="JSON file with TrainConfig fields (flags override it)")
    for f in fields(TrainConfig):
        if f.name == "extra":
            continue
        kind = {"int": int, "float": float, "bool": _bool}.get(str(f.type).split(" ")[0], str)
        if f.type in ("int | None", "str | None"):
            kind = int if f.type.startswith("int") else str
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None)


def _bool(s: str) -> bool:
    return s.lower() in ("1", "true", "yes", "on")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    base = {}
    if args.config:
        with open(args.config) as fh:
            base = json.load(fh)
    names = {f.name for f in fields(TrainConfig)}
    unknown = set(base) - names
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    base.update({k: v for k, v in vars(args).items() if k in names and v is not None})
    return TrainConfig(**base)


def run(args: argparse.Namespace) -> int:
    from prnet.train.loop import train

    train(config_from_args(args))
    return 0
