"""The ``prnet`` command. Each sub-command lives in its own module with a ``register(sub)``
function that adds its parser and sets ``func`` (returning the exit code)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from prnet.errors import PRNetError

# module (under prnet.cli) → the sub-commands it registers
COMMAND_MODULES = ["reconstruct", "info", "evaluate", "bench", "apps", "train", "bfm"]


def build_parser() -> argparse.ArgumentParser:
    from prnet import __version__

    ap = argparse.ArgumentParser(prog="prnet", description="PRNet: dense 3D face reconstruction and alignment.")
    ap.add_argument("--version", action="version", version=f"prnet {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help="CPU threads for torch (default: torch's choice; 1 is fastest on a busy machine)")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"prnet.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"prnet.cli.{name}":
                continue  # sub-command not part of this build
            raise
        mod.register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(max(1, args.threads))
    try:
        return int(args.func(args) or 0)
    except PRNetError as exc:
        print(f"prnet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("prnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
