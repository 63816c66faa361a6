"""``prnet swap``, ``prnet texture`` and ``prnet video`` (the applications in :mod:`prnet.apps`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prnet.cli.options import load_prn, model_parser
from prnet.errors import PRNetError


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

    # check the mode (and read a mask image) before loading the network
    mode = args.mode if args.mode in SWAP_MODES else uv_mask_for(args.mode, load_layout())
    if args.face_index != "all":
        try:
            indices = [int(args.face_index)]
        except ValueError:
            raise PRNetError(
                f"--face-index must be an integer or 'all', got {args.face_index!r}"
            ) from None
    else:
        indices = None
    src = read_image(args.source)
    ref = read_image(args.reference)
    prn = load_prn(args)
    src_faces = prn.reconstruct(src)
    if not src_faces:
        raise PRNetError(f"no face found in {args.source}")
    ref_faces = prn.reconstruct(ref)
    if not ref_faces:
        raise PRNetError(f"no face found in {args.reference}")
    if not 0 <= args.ref_index < len(ref_faces):
        raise PRNetError(
            f"--ref-index {args.ref_index} out of range: {args.reference} has "
            f"{len(ref_faces)} face(s)"
        )
    res = swap_all_faces(
        src,
        src_faces,
        ref,
        ref_faces[args.ref_index],
        indices,
        mode=mode,
        color_transfer=args.color_transfer,
        fill=args.fill,
    )
    write_image(args.output, res.image)
    n = len(src_faces) if indices is None else 1
    print(
        f"{args.output}: swapped {n} face(s) in {res.timings.get('total', 0.0) * 1000:.0f} ms "
        "(excluding the network)"
    )
    return 0


# --------------------------------------------------------------------------- texture


def _register_texture(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "texture",
        parents=[model_parser()],
        help="write each face's UV texture map (<stem>_<i>_texture.png)",
        description="UV texture of every face, left to right, in the texel layout of the "
        "textured OBJ (vt of write_obj with uv = FaceResult.uv).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="images, folders or glob patterns")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--size", type=int, default=256, metavar="N", help="texture side in texels (default 256)"
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

    from prnet.apps.texture import uv_texture
    from prnet.cli.reconstruct import plan_outputs, say
    from prnet.errors import ImageReadError
    from prnet.io import list_images, read_image, write_image

    if args.size < 8:
        raise PRNetError(f"--size must be at least 8, got {args.size}")
    listing = list_images(args.paths)
    for m in listing.missing:
        say(f"prnet: warning: no image matches {m}")
    for s in listing.skipped:
        say(f"prnet: warning: skipping {s} (not an image)")
    if not listing.images:
        raise PRNetError("no input images")
    prn = load_prn(args)
    written = failed = 0
    plan = plan_outputs(listing.images, Path(args.output))
    for path, (folder, stem) in tqdm(list(zip(listing.images, plan, strict=True)), desc="texture",
                                     unit="img", file=sys.stderr, leave=False):
        try:
            faces = prn.reconstruct(read_image(path))
            for f in faces:
                tex = uv_texture(f, args.size, fill=args.fill, mask_invisible=args.mask_invisible)
                write_image(folder / f"{stem}_{f.index}_texture.png", tex)
                written += 1
        except (ImageReadError, OSError) as exc:
            say(f"prnet: error: {exc}")
            failed += 1
            continue
        except PRNetError as exc:
            say(f"prnet: error: {path}: {exc}")
            failed += 1
            continue
        if not faces:
            say(f"prnet: warning: no face found in {path}")
    print(f"{args.output}: {written} texture(s) from {len(listing.images)} image(s)"
          + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


# --------------------------------------------------------------------------- video


def _register_video(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        parents=[model_parser()],
        help="reconstruct and track the faces of a video (annotated MP4, CSV, NPZ, OBJs)",
        description="Every frame is reconstructed; faces are tracked from their previous "
        "landmarks (the detector runs only every --detect-every frames or when a track is "
        "lost), smoothed with a One-Euro filter and written to DIR.",
    )
    p.add_argument(
        "input", metavar="INPUT", help="video file (any format PyAV/FFmpeg or OpenCV reads)"
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
        "--no-mesh",
        dest="mesh",
        action="store_false",
        help="do not draw the mesh in the annotated video (faster)",
    )
    p.add_argument(
        "--detect-every",
        type=int,
        default=30,
        metavar="K",
        help="run the detector every N processed frames to find new faces (default 30)",
    )
    p.add_argument(
        "--backend",
        choices=["auto", "pyav", "opencv"],
        default="auto",
        help="decoder: PyAV if installed (auto), else OpenCV",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.set_defaults(func=_run_video)


def _run_video(args: argparse.Namespace) -> int:
    from prnet.apps.video import VideoProcessor, VideoReader

    VideoReader(args.input, args.backend).close()  # fail fast, before loading the network
    proc = VideoProcessor(
        load_prn(args),
        every=args.every,
        max_frames=args.max_frames,
        smooth=args.smooth,
        obj=args.obj,
        detect_every=args.detect_every,
        mesh=args.mesh,
        progress=args.progress,
        backend=args.backend,
    )
    try:
        s = proc.run(args.input, args.output)
    except KeyboardInterrupt:
        s = proc.summary
        print(
            f"prnet: interrupted after {s.frames_processed} frame(s); outputs so far kept in "
            f"{args.output}",
            file=sys.stderr,
        )
        return 130
    tracks = ", ".join(map(str, s.track_ids)) or "none"
    print(
        f"{args.output}: {s.frames_processed} frame(s), {s.faces} face row(s), tracks [{tracks}], "
        f"{s.detector_calls} detector call(s), {s.fps:.1f} fps"
    )
    if s.stopped:
        print(f"prnet: warning: stopped early ({s.stopped}); outputs so far kept", file=sys.stderr)
    return 0
