"""``python -m prnet.train [flags]`` — same as ``prnet train`` (no CLI dependencies)."""

import argparse
import sys

from prnet.train.cli import add_arguments, run

if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="prnet train", description="Train a position-map network from a data pack.")
    add_arguments(ap)
    sys.exit(run(ap.parse_args()))
