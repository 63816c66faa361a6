"""``python -m prnet.train STEP [flags]`` — same as ``prnet train STEP`` (no CLI dependencies)."""

import argparse
import sys

from prnet.errors import PRNetError
from prnet.train.cli import add_commands

if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="prnet train", description="Training steps: labels, labels-extra, pack, fit.")
    add_commands(ap)
    args = ap.parse_args()
    try:
        sys.exit(args.func(args))
    except PRNetError as exc:
        print(f"prnet: error: {exc}", file=sys.stderr)
        sys.exit(1)
