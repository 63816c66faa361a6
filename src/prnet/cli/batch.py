"""``prnet batch``: images → a Parquet dataset, one row per face (see :mod:`prnet.batch`)."""

from __future__ import annotations

import argparse

from prnet.cli import EXIT_OK
from prnet.cli.options import load_prn, model_options, model_parser
from prnet.errors import PRNetError


def register(sub: argparse._SubParsersAction) -> None:
    from prnet.batch.job import ENGINES
    from prnet.batch.rows import DENSE_KINDS
    from prnet.io import DEFAULT_MAX_PIXELS

    p = sub.add_parser(
        "batch", parents=[model_parser()],
        help="many images → a Parquet dataset (one row per face), resumable, local or on Ray",
        description="Reconstruct every face of many images into a Parquet dataset in OUT: "
                    "shards part-NNNNN.parquet with one row per face (path, width, height, "
                    "face_index, box, score, landmarks, landmark_visibility, yaw, pitch, roll, "
                    "camera_matrix, status ok), one row per image without a face (status "
                    "no_face, face_index -1) or that failed (status failed, error). Run the "
                    "same command again after an interruption (even kill -9) to finish the "
                    "job: every image ends up exactly once. Needs pip install \"prnet[batch]\".",
        epilog="files in OUT: _manifest.jsonl (finished shards and the inputs they cover), "
               "_config.json (options a rerun must repeat), _summary.json (counts, images/s), "
               "_files/ (--outputs). Exit status 0 when every image has its row (failed "
               "images included), 1 on an error that stopped the job.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="folders (searched recursively), glob patterns, image files, text files "
                        "of paths (.txt, one a line) or CSV/Parquet files with a column of "
                        "paths (.csv, .parquet)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    p.add_argument("--column", default="path", metavar="NAME",
                   help="column of paths in CSV/Parquet inputs (default path)")
    p.add_argument("--shard-rows", type=int, default=None, metavar="N",
                   help="images per shard, about as many rows (default 10000; 500 with --dense)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (local) or model actors (ray), each with its own "
                        "model (default 1)")
    p.add_argument("--chunk", type=int, default=8, metavar="N", dest="chunk_size",
                   help="images a worker takes at a time; their faces go through the network "
                        "together in batches of --batch-size (default 8)")
    p.add_argument("--dense", choices=DENSE_KINDS, default=None,
                   help="add the position map (posmap: 256x256x3 float16 bytes, "
                        "prnet.batch.decode_posmap) or the dense vertices (vertices: N x 3)")
    p.add_argument("--outputs", default=None, metavar="NAMES",
                   help="also write these outputs of each face (comma-separated registry "
                        "names: obj,glb,ply,...) into OUT/_files/<shard>/; the row lists them")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"larger images become failed rows (default {DEFAULT_MAX_PIXELS})")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: worker processes on this machine (default); ray: a Ray Data "
                        'pipeline (pip install "prnet[ray]")')
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to join: auto (the cluster of `ray job submit`), "
                        "ray://host:10001, host:6379 (default: start a local Ray)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary line")
    p.set_defaults(func=run_batch_command)


def _export_options(names: str | None):
    if not names:
        return None
    from prnet.outputs import ExportOptions

    return ExportOptions.from_names([n.strip() for n in names.split(",") if n.strip()])


def run_batch_command(args: argparse.Namespace) -> int:
    """Body of ``prnet batch``."""
    from prnet.batch import BatchJob, run_batch
    from prnet.batch._deps import require_pyarrow, require_ray
    from prnet.cli.messages import tell

    if args.ray_address and args.engine != "ray":
        raise PRNetError("--ray-address needs --engine ray")
    job = BatchJob(inputs=args.inputs, out_dir=args.output, column=args.column,
                   shard_rows=args.shard_rows, workers=args.workers,
                   chunk_size=args.chunk_size, threads=args.threads, dense=args.dense,
                   outputs=_export_options(args.outputs), max_pixels=args.max_pixels,
                   engine=args.engine, ray_address=args.ray_address, progress=not args.quiet)
    job.check()
    require_pyarrow()  # a missing extra is said before the model loads
    if job.engine == "ray":
        require_ray()
    options = model_options(args)
    # the local engine loads the model here first: a bad option fails before any work
    prn = load_prn(args) if args.engine == "local" else None
    s = run_batch(job, options, prn)
    if not args.quiet:
        tell(f"prnet batch: {s['images']} images, {s['faces']} faces, {s['no_face']} without a "
             f"face, {s['failed']} failed in {s['shards']} shards of {args.output}; this run "
             f"{s['this_run']['images']} images in {s['seconds']:.1f} s "
             f"({s['images_per_s']} images/s, {s['faces_per_s']} faces/s)")
    return EXIT_OK
