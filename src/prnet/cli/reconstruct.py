"""``prnet reconstruct`` (images → files) and ``prnet demo`` (the bundled sample image).

Every input image gets ``<stem>.json`` (faces found, files written; also when no face is
found) and, per face, the files chosen by the output flags (see :mod:`prnet.outputs`). Bad
inputs are reported as one line on stderr each, and the other inputs are still processed.

Exit codes: 0 all inputs read; 1 some input could not be read (or nothing to do, or the
model could not be loaded); 3 with ``--strict`` when every input was read but some image
has no face; 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from prnet.cli import EXIT_FAILED, EXIT_NO_FACE, EXIT_OK
from prnet.cli.inputs import clear_stale_temporaries, gather_images
from prnet.cli.messages import printable, say, tell
from prnet.cli.options import load_prn, model_parser
from prnet.cli.stems import plan_outputs
from prnet.errors import ImageReadError, PRNetError
from prnet.geometry.uv import UV_RES
from prnet.io._quiet import quiet_warnings

log = logging.getLogger(__name__)


def _sample_image() -> Path:
    return Path(str(resources.files("prnet") / "assets" / "astronaut.jpg"))


def _add_options(p: argparse.ArgumentParser, demo: bool) -> None:
    from prnet.io import DEFAULT_MAX_PIXELS

    if not demo:
        p.add_argument("paths", nargs="+", metavar="PATH",
                       help="image files, folders (searched recursively) or glob patterns")
        p.add_argument("-o", "--output", required=True, metavar="DIR",
                       help="output folder (created if missing)")
    else:
        p.add_argument("-o", "--output", default="prnet_demo", metavar="DIR",
                       help="output folder (default: ./prnet_demo)")
    _add_output_flags(p, demo)
    if not demo:
        p.add_argument("--boxes", default=None, metavar="FILE",
                       help='precomputed face boxes instead of the detector: JSON '
                            '{"image name or path": [[x0, y0, x1, y1], ...]}')
        sel = p.add_argument_group("inputs and exit status")
        sel.add_argument("--face-index", type=int, default=None, metavar="I",
                         help="only the face with this index (faces are numbered left to "
                              "right from 0)")
        sel.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                         help=f"refuse images with more pixels (default {DEFAULT_MAX_PIXELS})")
        sel.add_argument("--skip-existing", action="store_true",
                         help="resume an interrupted run: skip images whose <stem>.json in DIR "
                              "lists the same outputs and whose files all exist (the model and "
                              "TTA settings are not compared)")
        sel.add_argument("--strict", action="store_true",
                         help="exit with status 3 when an image has no face (default: such "
                              "images are reported but are not errors)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no summary (errors are still printed)")


def _add_output_flags(p: argparse.ArgumentParser, demo: bool) -> None:
    """The "outputs" group: one flag per registered output (:mod:`prnet.outputs.registry`),
    ``--all``, then the modifiers (``--front``) and the texture settings."""
    from prnet.outputs import all_names, default_names, registered

    out = p.add_argument_group(
        "outputs", "default: every output below (--all plus the rest)" if demo else
        f"default when none is given: {' '.join('--' + n for n in default_names())}")
    modifiers = [o for o in registered() if o.modifier]
    for o in registered():
        if not o.modifier:
            out.add_argument(f"--{o.name}", action="store_true", help=o.help)
    out.add_argument("--all", action="store_true",
                     help="every result once: " + " ".join(f"--{n}" for n in all_names())
                     + "; the other containers of the same results ("
                     + " ".join(f"--{o.name}" for o in registered() if not o.in_all and not o.modifier)
                     + ") and " + " ".join(f"--{o.name}" for o in modifiers)
                     + " are added by naming them")
    for o in modifiers:
        out.add_argument(f"--{o.name}", action="store_true", help=o.help)
    out.add_argument("--texture-size", type=int, default=UV_RES, metavar="N",
                     help=f"side of the UV texture image for --texture and --glb (default {UV_RES})")
    out.add_argument("--mask-invisible", action="store_true",
                     help="black out self-occluded texels in the UV texture")
    out.add_argument("--full-frame", action="store_true",
                     help="--viz drawings and --depth cover the whole image, one copy per face "
                          "(the behaviour before region outputs); default: the face's region "
                          "(its mesh box + 25%% margin, offset in <stem>.json) and one combined "
                          "<stem>_viz.jpg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reconstruct", parents=[model_parser()],
        help="3D faces, landmarks, pose, meshes and textures from images",
        description="Reconstruct every face in the given images and write the chosen outputs "
                    "to DIR: per face <stem>_<i>.<ext>, per image <stem>.json (faces found, "
                    "files written; also for images without a face). Inputs that share a "
                    "file stem keep their folder structure under DIR; names still shared get "
                    "the extension (x_jpg, x_png), then a hash of the path (x_png-1a2b3c4d).",
        epilog="exit status: 0 all inputs read (images without a face included), 1 an input "
               "could not be read or the model could not be loaded, 3 with --strict when "
               "some image has no face, 2 usage error.",
    )
    _add_options(p, demo=False)
    p.set_defaults(func=run_reconstruct)

    d = sub.add_parser(
        "demo", parents=[model_parser()], help="every output for the bundled sample image (a public-domain NASA photo)",
        description="Run `prnet reconstruct --all` on the bundled sample image "
                    "(astronaut.jpg, public domain, NASA) and write the results to DIR.",
    )
    _add_options(d, demo=True)
    d.set_defaults(func=run_demo)


# --------------------------------------------------------------------------- helpers


def _export_options(args: argparse.Namespace, demo: bool = False):
    """The ExportOptions of the output flags: the chosen outputs (default: the registry's
    defaults; ``prnet demo``: every output) plus the chosen modifiers; ``--all``: every result
    once (:func:`prnet.outputs.all_names`), plus any other output named beside it."""
    from prnet.outputs import ExportOptions, all_names, default_names, output_names, registered

    chosen = [o.name for o in registered() if not o.modifier and getattr(args, o.name, False)]
    if demo and not chosen and not args.all:
        names = list(output_names())
    else:
        names = [*all_names(), *chosen] if args.all else chosen or list(default_names())
        names += [o.name for o in registered() if o.modifier and getattr(args, o.name, False)]
    return ExportOptions.from_names(names, texture_size=args.texture_size,
                                    mask_invisible=args.mask_invisible,
                                    full_frame=args.full_frame)


@dataclass
class RunStats:
    """Counts for the summary line."""

    images: int = 0
    faces: int = 0
    failed: int = 0
    skipped: int = 0
    no_face: list[str] = field(default_factory=list)
    written: set[Path] = field(default_factory=set)

    def files_present(self) -> int:
        """Distinct files written that exist now (one file reached by two names counts once)."""
        ids = set()
        for p in self.written:
            try:
                st = os.stat(p)
            except OSError:
                continue
            ids.add((st.st_dev, st.st_ino))
        return len(ids)


# --------------------------------------------------------------------------- commands


def run_reconstruct(args: argparse.Namespace, demo: bool = False) -> int:
    """Body of ``prnet reconstruct`` (and ``prnet demo``); returns the exit code."""
    try:
        return _run(args, demo)
    except PRNetError as exc:
        say(f"prnet: error: {exc}")
        return EXIT_FAILED


def run_demo(args: argparse.Namespace) -> int:
    args.paths = [str(_sample_image())]
    args.boxes = None
    args.face_index = None
    args.strict = False
    from prnet.io import DEFAULT_MAX_PIXELS

    args.max_pixels = DEFAULT_MAX_PIXELS
    return run_reconstruct(args, demo=True)


def _run(args: argparse.Namespace, demo: bool) -> int:
    t0 = time.perf_counter()
    options = _export_options(args, demo)
    if args.max_pixels < 1:
        raise PRNetError(f"--max-pixels must be >= 1, got {args.max_pixels}")
    out_dir = Path(args.output)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise PRNetError(f"output {out_dir} exists and is not a folder")
    stats = RunStats()

    images, stats.failed = gather_images(args.paths, out_dir)
    if not images:
        if not stats.failed:
            raise PRNetError(f"no images found in {' '.join(map(str, args.paths))}")
        return _finish(args, stats, t0, out_dir)

    boxes = None
    if getattr(args, "boxes", None):
        from prnet.detect import BoxesDetector

        boxes = BoxesDetector.from_json(args.boxes)
    plan = plan_outputs(images, out_dir)
    if getattr(args, "skip_existing", False):
        from prnet.outputs import is_exported

        todo = [not is_exported(folder, stem, options) for folder, stem in plan]
        stats.skipped = todo.count(False)
        images = [p for p, t in zip(images, todo, strict=True) if t]
        plan = [q for q, t in zip(plan, todo, strict=True) if t]
        if not images:
            return _finish(args, stats, t0, out_dir)
    prn = load_prn(args, detector=boxes)  # before anything is written
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PRNetError(f"cannot create the output folder {out_dir}: "
                         f"{exc.strerror or exc}") from None
    clear_stale_temporaries({folder for folder, _ in plan})

    from tqdm import tqdm

    bar = tqdm(list(zip(images, plan, strict=True)), desc="prnet", unit="img",
               file=sys.stderr, disable=True if args.quiet else None, leave=False)
    for path, (folder, stem) in bar:
        stats.images += 1
        _process(prn, path, folder, stem, options, args, stats)
    bar.close()
    return _finish(args, stats, t0, out_dir)


def _process(prn, path: Path, folder: Path, stem: str, options, args: argparse.Namespace,
             stats: RunStats) -> None:
    """Read, reconstruct and export one image; warnings of the libraries go to the debug
    log with the file's name."""
    with quiet_warnings(printable(path)):
        _process_quietly(prn, path, folder, stem, options, args, stats)


def _process_quietly(prn, path: Path, folder: Path, stem: str, options,
                     args: argparse.Namespace, stats: RunStats) -> None:
    from prnet.io import read_image
    from prnet.outputs import export_image

    try:
        img = read_image(path, max_pixels=args.max_pixels)
    except ImageReadError as exc:
        say(f"prnet: error: {exc}")
        stats.failed += 1
        return
    try:
        faces = prn.reconstruct(img, key=path)
        found = len(faces)
        if args.face_index is not None:
            faces = [f for f in faces if f.index == args.face_index]
        written = export_image(faces, folder, stem, options, source=path,
                               image_shape=img.shape[:2])
    except PRNetError as exc:
        say(f"prnet: error: {path}: {exc}")
        stats.failed += 1
        return
    except OSError as exc:
        say(f"prnet: error: cannot write the outputs of {path}: {exc}")
        stats.failed += 1
        return
    except Exception as exc:
        log.debug("processing %s failed", path, exc_info=True)
        say(f"prnet: error: {path}: {type(exc).__name__}: {exc}")
        stats.failed += 1
        return
    stats.faces += len(faces)
    stats.written.update(written)
    if not faces:
        stats.no_face.append(str(path))
        level = "error" if args.strict else "warning"
        what = (f"no face with index {args.face_index} ({found} found)"
                if args.face_index is not None and found else "no face found")
        say(f"prnet: {level}: {what} in {path}")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _finish(args: argparse.Namespace, stats: RunStats, t0: float, out_dir: Path) -> int:
    secs = time.perf_counter() - t0
    if not args.quiet:
        per = f" ({secs / stats.images:.2f} s/image)" if stats.images else ""
        tell(f"prnet: {_n(stats.images, 'image')}, {_n(stats.faces, 'face')}, "
             f"{len(stats.no_face)} without a face, {stats.failed} failed, {secs:.1f} s{per}; "
             f"{_n(stats.files_present(), 'file')} in {out_dir}"
             + (f"; {stats.skipped} skipped (done earlier)" if stats.skipped else ""))
    if stats.failed:
        return EXIT_FAILED
    if args.strict and stats.no_face:
        return EXIT_NO_FACE
    return EXIT_OK
