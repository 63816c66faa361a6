"""``prnet swap``, ``prnet texture`` and ``prnet video`` (the applications in :mod:`prnet.apps`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from prnet.cli import EXIT_FAILED, EXIT_NO_FACE, EXIT_OK
from prnet.cli.inputs import clear_stale_temporaries
from prnet.cli.messages import printable, say, tell
from prnet.cli.options import load_prn, model_parser
from prnet.errors import ImageReadError, PRNetError
from prnet.geometry.uv import UV_RES
from prnet.io._quiet import quiet_warnings


def register(sub: argparse._SubParsersAction) -> None:
    _register_swap(sub)
    _register_texture(sub)
    _register_video(sub)


# --------------------------------------------------------------------------- swap


def _register_swap(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "swap",
        parents=[model_parser()],
        help="put a reference face's texture (or its eyes, or a UV region) on an image's faces",
        description="Face swap / texture editing as in PRNet: the REFERENCE face's UV texture is "
        "rendered on each SOURCE face's 3D shape and blended in with Poisson editing.",
        epilog="exit status: 0 OUT written; 1 an image or the mask cannot be read, OUT cannot be "
        "written, an index is out of range, or nothing to swap (the mask selects no face "
        "texel); 3 no face in SOURCE or REFERENCE; 2 usage error. On any error OUT is not "
        "written.",
    )
    p.add_argument("source", metavar="SOURCE", help="image whose faces are replaced")
    p.add_argument("reference", metavar="REFERENCE", help="image the new texture comes from")
    p.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output image (.png, .jpg, …)"
    )
    p.add_argument(
        "--mode",
        default="face",
        metavar="face|eyes|MASK.png",
        help="face (default), eyes, or a 256×256 UV mask image (white = swap)",
    )
    p.add_argument(
        "--face-index",
        default="all",
        metavar="I|all",
        help="which SOURCE face(s), left to right from 0, or 'all' (default)",
    )
    p.add_argument(
        "--ref-index", type=int, default=0, metavar="J", help="which REFERENCE face (default 0)"
    )
    p.add_argument(
        "--color-transfer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="match the reference colours to the source face (LAB median/spread; default on)",
    )
    p.add_argument(
        "--fill",
        choices=["mirror", "none"],
        default="mirror",
        help="texels the reference face hides: take them from its mirror side (default) "
        "or not; what is still missing is filled smoothly",
    )
    p.set_defaults(func=_run_swap)


def _run_swap(args: argparse.Namespace) -> int:
    from prnet.apps.swap import SWAP_MODES, swap_all_faces, uv_mask_for
    from prnet.io import read_image, write_image
    from prnet.uv.layout import load_layout

    # everything that can be checked is checked before the network is loaded
    _check_output_image(args.output)
    mode = args.mode if args.mode in SWAP_MODES else uv_mask_for(args.mode, load_layout())
    if not isinstance(mode, str) and not mode.any():
        raise PRNetError(f"nothing to swap: the mask {args.mode} selects no face texel "
                         "(white = swap; nothing written)")
    indices = _face_indices(args.face_index)
    with quiet_warnings(printable(args.source)):
        src = read_image(args.source)
    with quiet_warnings(printable(args.reference)):
        ref = read_image(args.reference)
    prn = load_prn(args)
    src_faces, ref_faces = prn.reconstruct(src), prn.reconstruct(ref)
    for path, faces in ((args.source, src_faces), (args.reference, ref_faces)):
        if not faces:
            say(f"prnet: error: no face found in {path} (nothing written)")
            return EXIT_NO_FACE
    if not 0 <= args.ref_index < len(ref_faces):
        raise PRNetError(
            f"--ref-index {args.ref_index} out of range: {args.reference} has "
            f"{len(ref_faces)} face(s)"
        )
    with quiet_warnings(printable(args.source)):
        res = swap_all_faces(src, src_faces, ref, ref_faces[args.ref_index], indices,
                             mode=mode, color_transfer=args.color_transfer, fill=args.fill)
    if not res.mask.any():
        raise PRNetError(f"nothing to swap: the chosen region covers no pixel of "
                         f"{args.source} (nothing written)")
    clear_stale_temporaries({Path(args.output).parent})
    write_image(args.output, res.image)
    n = len(src_faces) if indices is None else 1
    tell(f"{args.output}: swapped {n} face(s) in {res.timings.get('total', 0.0) * 1000:.0f} ms "
         "(excluding the network)")
    return EXIT_OK


def _check_output_image(path: str) -> None:
    """An output image path a run can write (checked before any work)."""
    from prnet.io.image import WRITE_EXTENSIONS

    if os.path.splitext(path)[1].lower() not in WRITE_EXTENSIONS:
        raise PRNetError(f"cannot write image {path}: unsupported extension (use one of "
                         f"{', '.join(WRITE_EXTENSIONS)})")
    if os.path.isdir(path):
        raise PRNetError(f"cannot write image {path}: is a directory")


def _face_indices(value: str) -> list[int] | None:
    """``--face-index``: one index, or ``None`` for all."""
    if value == "all":
        return None
    try:
        return [int(value)]
    except ValueError:
        raise PRNetError(f"--face-index must be an integer or 'all', got {value!r}") from None


# --------------------------------------------------------------------------- texture


def _register_texture(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "texture",
        parents=[model_parser()],
        help="write each face's UV texture map (<stem>_<i>_texture.png)",
        description="UV texture of every face, left to right, in the texel layout of the "
        "textured OBJ (vt of write_obj with uv = FaceResult.uv). Inputs sharing a name get "
        "unique stems as in prnet reconstruct.",
        epilog="exit status: 0 every input read (images without a face included), 1 some "
        "input could not be read or its texture written (the others are still written), "
        "2 usage error.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="images, folders or glob patterns")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--size", type=int, default=UV_RES, metavar="N",
        help=f"texture side in texels (default {UV_RES})",
    )
    p.add_argument(
        "--fill",
        choices=["mirror", "none"],
        default="none",
        help="fill texels hidden by the face itself from the mirror side (default none)",
    )
    p.add_argument(
        "--mask-invisible",
        action="store_true",
        help="black out texels whose colour is not seen (after --fill)",
    )
    p.set_defaults(func=_run_texture)


def _run_texture(args: argparse.Namespace) -> int:
    """Texture of every face of every image; a bad image is reported and the rest still run."""
    from tqdm import tqdm

    from prnet.cli.inputs import gather_images
    from prnet.cli.stems import plan_outputs

    if args.size < 8:
        raise PRNetError(f"--size must be at least 8, got {args.size}")
    out_dir = Path(args.output)
    images, failed = gather_images(args.paths, out_dir)
    if not images:
        raise PRNetError("no input images")
    prn = load_prn(args)
    plan = plan_outputs(images, out_dir, suffixes=[TEXTURE_SUFFIX])
    clear_stale_temporaries({folder for folder, _ in plan})
    written: list[Path] = []
    for path, (folder, stem) in tqdm(list(zip(images, plan, strict=True)), desc="texture",
                                     unit="img", file=sys.stderr, leave=False, disable=None):
        with quiet_warnings(printable(path)):
            files = _texture_one(prn, path, folder, stem, args)
        if files is None:
            failed += 1
        written += files or []
    tell(f"{args.output}: {len(written)} texture(s) from {len(images)} image(s)"
         + (f", {failed} failed" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


#: What ``prnet texture`` writes after ``<stem>_<i>``.
TEXTURE_SUFFIX = "_texture.png"


def _texture_one(prn, path: Path, folder: Path, stem: str,
                 args: argparse.Namespace) -> list[Path] | None:
    """The UV textures of one image's faces (``None`` after reporting a failure)."""
    from prnet.apps.texture import uv_texture
    from prnet.io import read_image, write_image

    try:
        faces = prn.reconstruct(read_image(path))
        files = []
        for f in faces:
            tex = uv_texture(f, args.size, fill=args.fill, mask_invisible=args.mask_invisible)
            files.append(write_image(folder / f"{stem}_{f.index}{TEXTURE_SUFFIX}", tex))
    except ImageReadError as exc:
        say(f"prnet: error: {exc}")
        return None
    except OSError as exc:
        say(f"prnet: error: cannot write the texture of {path}: {exc}")
        return None
    except PRNetError as exc:
        say(f"prnet: error: {path}: {exc}")
        return None
    if not faces:
        say(f"prnet: warning: no face found in {path}")
    return files


# --------------------------------------------------------------------------- video


def _register_video(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        parents=[model_parser()],
        help="reconstruct and track the faces of a video (annotated MP4, CSV, NPZ, OBJs)",
        description="Every frame of a video file or a camera is reconstructed; faces are "
        "tracked from their previous landmarks (the detector runs only every --redetect-every "
        "frames or when a track is lost), smoothed with a One-Euro filter (on by default) and "
        "written to DIR: an H.264 MP4 that browsers play, a CSV and an NPZ. The network is the "
        "fast one (--model fast) unless --model, --weights or --onnx names another "
        "(--model default: the photo network).",
        epilog="exit status: 0 the whole video processed (a camera: stopped by q, Ctrl-C or "
        "--max-frames); 1 it cannot be read (no such camera), stopped early (a corrupt or "
        "truncated stream; the outputs so far are kept) or the outputs cannot be written; 130 "
        "interrupted (Ctrl-C on a file), 143 terminated (SIGTERM), outputs so far kept; 2 usage "
        "error.",
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        nargs="?",
        help="video file (any format PyAV/FFmpeg or OpenCV reads), or a camera number (0)",
    )
    p.add_argument(
        "--camera",
        type=int,
        default=None,
        metavar="N",
        help="read camera N through OpenCV instead of a file (same as INPUT N); q in the "
        "preview window or Ctrl-C stops and finalises the outputs",
    )
    p.add_argument(
        "--preview",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the annotated frames in a window (default: on for a camera, off for a file; "
        "without a GUI or display a one-line note and no window)",
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--every", type=int, default=1, metavar="N", help="process every N-th frame (default 1)"
    )
    p.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="stop after N processed frames"
    )
    p.add_argument("--obj", action="store_true", help="also write an OBJ per frame and face")
    p.add_argument(
        "--no-smooth",
        dest="smooth",
        action="store_false",
        help="no temporal smoothing of landmarks, mesh and pose",
    )
    p.add_argument(
        "--no-video",
        dest="video",
        action="store_false",
        help="no annotated video: only the CSV and NPZ (and OBJs), nothing drawn (fastest)",
    )
    p.add_argument(
        "--no-mesh",
        dest="mesh",
        action="store_false",
        help="do not draw the mesh in the annotated video (faster)",
    )
    p.add_argument(
        "--redetect-every",
        "--detect-every",
        dest="detect_every",
        type=int,
        default=30,
        metavar="K",
        help="faces are tracked from their previous landmarks; the detector runs only when a "
        "track is lost and every K processed frames, to find new faces (default 30)",
    )
    p.add_argument(
        "--decoder",
        "--video-backend",
        dest="decoder",
        choices=["auto", "pyav", "opencv"],
        default="auto",
        help="video decoder: PyAV if installed (auto), else OpenCV (--backend is the network's)",
    )
    p.add_argument(
        "--codec",
        choices=["auto", "h264", "mp4v"],
        default="auto",
        help="annotated video: H.264 (yuv420p, +faststart; plays in browsers) through PyAV when "
        'it has libx264 (auto, the default; pip install "prnet[video]"), else OpenCV mp4v',
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.set_defaults(func=_run_video)


def _video_source(args: argparse.Namespace) -> str | int:
    """The file or camera number to read (usage errors as PRNetError lines)."""
    from prnet.apps.camera import camera_index
    from prnet.io.listing import path_problem

    if args.camera is not None and args.input is not None:
        raise PRNetError("give INPUT or --camera N, not both")
    if args.camera is not None:
        if args.camera < 0:
            raise PRNetError(f"--camera: expected a camera number >= 0, got {args.camera}")
        return args.camera
    if args.input is None:
        raise PRNetError("no input: give a video file, a camera number (0) or --camera N")
    cam = camera_index(args.input)
    if cam is not None:
        return cam
    problem = path_problem(args.input)
    if problem is not None:
        raise PRNetError(f"cannot read video {args.input}: {problem}")
    return args.input


def video_model(args: argparse.Namespace) -> str | None:
    """The network of ``prnet video``: ``--model``, else the fast network when it is
    bundled and no ``--weights``/``--onnx`` names another."""
    from prnet.models.weights import is_bundled

    if args.model or args.weights or args.onnx:
        return args.model
    return "fast" if is_bundled("fast") else None


def _run_video(args: argparse.Namespace) -> int:
    from prnet.apps.camera import CameraReader
    from prnet.apps.video import VideoProcessor, VideoReader
    from prnet.models import resolve_model_name
    from prnet.models.weights import DEFAULT_MODEL

    source = _video_source(args)
    camera = isinstance(source, int)
    if not getattr(args, "verbose", False):  # the summary below says it in one line
        logging.getLogger("prnet.apps.video").setLevel(logging.ERROR)
    # fail fast, before loading the network
    (CameraReader(source) if camera else VideoReader(source, args.decoder)).close()
    clear_stale_temporaries({Path(args.output)})
    preview = camera if args.preview is None else args.preview
    if preview:
        from prnet.apps.camera import preview_problem

        problem = preview_problem()
        if problem is not None:
            say(f"prnet: note: no preview window ({problem}); running without it, Ctrl-C stops")
            preview = False
    prn = load_prn(args, model=video_model(args))
    proc = VideoProcessor(
        prn,
        every=args.every,
        max_frames=args.max_frames,
        smooth=args.smooth,
        obj=args.obj,
        detect_every=args.detect_every,
        mesh=args.mesh,
        progress=args.progress,
        backend=args.decoder,
        codec=args.codec,
        preview=preview,
        video=args.video,
    )
    try:
        s = proc.run(source, args.output)
    except KeyboardInterrupt:
        s = proc.summary
        if not camera:
            say(f"prnet: interrupted after {s.frames_processed} frame(s); outputs so far kept "
                f"in {args.output}")
            return 130
        s.stopped = None  # Ctrl-C is how a camera run ends
    tracks = ", ".join(map(str, s.track_ids)) or "none"
    tell(f"{args.output}: {s.frames_processed} frame(s), {s.faces} face row(s), tracks [{tracks}], "
         f"{s.detector_calls} detector call(s), {s.fps:.1f} fps "
         f"({resolve_model_name(prn.options.model or DEFAULT_MODEL)} network, {prn.backend}"
         f"{', int8' if prn.precision == 'int8' else ''})")
    if s.stopped:  # the rest of the video could not be read: a failure, as in reconstruct
        say(f"prnet: error: {printable(source)}: stopped early ({s.stopped}); outputs so far kept")
        return EXIT_FAILED
    return EXIT_OK
