"""The ``prnet`` command. Each sub-command lives in its own module with a ``register(sub)``
function that adds its parser and sets ``func`` (returning the exit code)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from prnet.errors import PRNetError

# module (under prnet.cli) → the sub-commands it registers
COMMAND_MODULES = ["reconstruct", "info", "evaluate", "bench", "apps", "train", "bfm", "export",
                   "batch", "serve"]


def build_parser() -> argparse.ArgumentParser:
    from prnet import __version__

    ap = argparse.ArgumentParser(prog="prnet", description="PRNet: dense 3D face reconstruction and alignment.")
    ap.add_argument("--version", action="version", version=f"prnet {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help="CPU threads for torch (default: torch's choice; 1 is fastest on a busy machine)")
    ap.add_argument("--no-fsync", action="store_true",
                    help="do not fsync each written file (faster writing; files stay atomic, but the "
                         "last ones may be lost in a power failure); same as PRNET_FSYNC=0")
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
    if args.no_fsync:  # through the environment, so that batch workers inherit it
        from prnet.io._atomic import FSYNC_ENV

        os.environ[FSYNC_ENV] = "0"
    if args.threads:
        import torch

        torch.set_num_threads(max(1, args.threads))
    from prnet.cli.messages import say

    restore = _terminate_cleanly()
    try:
        return int(args.func(args) or 0)
    except PRNetError as exc:
        say(f"prnet: error: {exc}")
        return 1
    except OSError as exc:  # a file that cannot be read or written, named by the message
        say(f"prnet: error: {exc}")
        return 1
    except KeyboardInterrupt:
        say("prnet: interrupted")
        return 130
    except SystemExit as exc:
        if exc.code == EXIT_TERMINATED:
            say("prnet: terminated")
        raise
    finally:
        restore()


#: Exit statuses of the commands: all inputs read; an input could not be read (or the model
#: loaded); no face (``--strict``, swap); after SIGTERM (128 + 15, as a shell reports it).
EXIT_OK, EXIT_FAILED, EXIT_NO_FACE, EXIT_TERMINATED = 0, 1, 3, 143


def _terminate_cleanly():
    """Make SIGTERM unwind the stack (SystemExit 143) so that atomic writes remove their
    temporary files; returns a function that puts the previous handler back. Only done in the
    main thread and when SIGTERM has its default handler (an embedding program's is kept)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def on_term(signum, frame):
        raise SystemExit(EXIT_TERMINATED)

    signal.signal(signal.SIGTERM, on_term)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
