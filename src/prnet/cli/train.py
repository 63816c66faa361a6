"""``prnet train labels|labels-extra|pack|fit`` — build the training input, then train."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from prnet.train.cli import add_commands

    p = sub.add_parser("train", help="training: pseudo-labels, the data pack, time-budgeted training "
                       "(needs prnet[train]; see MODEL_CARD.md)",
                       description="Training steps, in order: `labels` (and `labels-extra`) → `pack` "
                       "→ `fit`. Each reads the shared data folder given by --shared; nothing "
                       "derived from it may be committed.")
    add_commands(p)
