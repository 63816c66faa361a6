"""``prnet train`` — time-budgeted, resumable training from a data pack."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from prnet.train.cli import add_arguments, run

    p = sub.add_parser("train", help="train a position-map network from a data pack (see MODEL_CARD.md)",
                       description="Train for --minutes on a pack built by `prnet bfm fetch` + "
                       "scripts/make_labels.py + scripts/make_pack.py; writes weights, logs and dev metrics to --out.")
    add_arguments(p)
    p.set_defaults(func=run)
