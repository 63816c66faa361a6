"""``prnet bench`` — pipeline stage times, network latency/throughput, hardware (never asserted)."""

from __future__ import annotations

import argparse
import sys

from prnet.cli.options import model_options, model_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", parents=[model_parser(device="cpu")], help="time the pipeline stages and the network (CPU or CUDA)",
        description="Per-stage time per face of the whole pipeline on one image (decode, detect, "
        "crop, network, post-processing, render/visibility, pose, exports to a temp folder), "
        "end-to-end faces/s, network batch-1 latency and throughput over batch sizes (CPU: 1, 8, "
        "32 fp32; CUDA: 1, 64, 256 in fp32/fp16/bf16, with and without channels-last, plus a "
        "CUDA-graph batch-1 latency), and the hardware. --backend onnxruntime times the "
        "pipeline and the network through onnxruntime next to torch; --baseline teacher adds the "
        "3DDFA_V2 network's batch-1 time. --tta/--tta-shift time the pipeline with "
        "test-time augmentation. Per backend (torch, and onnxruntime when installed): end to end, "
        "landmarks+pose per face (no dense outputs), network batch 1, detection and the frames "
        "per second of `prnet video`'s tracking path on a 640x480 clip. Prints a table; --json "
        "writes it all.")
    p.add_argument("--json", default=None, help="write the results as JSON")
    p.add_argument("--image", default=None, help="benchmark image (default: the bundled astronaut.jpg)")
    p.add_argument("--repeats", type=int, default=5, help="timed pipeline repeats (default 5)")
    p.add_argument("--seconds", type=float, default=1.0,
                   help="time per network configuration (default 1.0)")
    p.add_argument("--batches", type=int, nargs="+", default=None,
                   help="batch sizes (default: 1 8 32 on CPU, 1 64 256 on CUDA)")
    p.add_argument("--dtypes", nargs="+", choices=["fp32", "fp16", "bf16"], default=None,
                   help="network dtypes (default: fp32 on CPU, plus bf16 where the CPU has it natively; all three on CUDA)")
    p.add_argument("--no-cuda-graph", action="store_true", help="skip the CUDA-graph latency")
    p.add_argument("--video-frames", type=int, default=300, metavar="N",
                   help="frames of the synthetic 640x480 clip run through the `prnet video` "
                        "tracking path per backend (default 300; 0 skips it)")
    p.add_argument("--baseline", choices=["teacher"], action="append", default=[],
                   help="also time the 3DDFA_V2 teacher network (MobileNet-V1 0.5, 120x120 "
                        "input, random weights) at batch 1 in the same run, and the pipeline "
                        "with it in place of ours")
    tp = p.add_argument_group("device-path throughput (default with --device cuda)")
    tp.add_argument("--throughput", action="store_true",
                    help="instead of the per-stage table: network img/s at batch 1 8 32 128 512 "
                         "(CUDA; 1 8 on the CPU) eager and as CUDA graphs, batch-1 latency, the "
                         "torch post-stages against NumPy, and end-to-end faces/s from JPEG "
                         "files (decode workers, pinned copies, grid_sample crops, network, "
                         "device post); implied by --device cuda")
    tp.add_argument("--folder", default=None,
                    help="JPEG files for the end-to-end runs (default: copies of --image)")
    tp.add_argument("--e2e-images", type=int, default=None, metavar="N",
                    help="images per end-to-end run (default 2048 on CUDA, 16 on the CPU)")
    tp.add_argument("--e2e-batch", type=int, default=None, metavar="N",
                    help="images per device batch end to end (default 256 on CUDA, 8 on the CPU)")
    tp.add_argument("--workers", type=int, nargs="+", default=None,
                    help="decode worker counts (default 4 8 16 on CUDA, 1 2 on the CPU)")
    tp.add_argument("--decoders", nargs="+", choices=["cpu", "nvjpeg"], default=None,
                    help="JPEG decoding: cpu (worker threads) and/or nvjpeg (GPU, torchvision; "
                         "default: both where available)")
    tp.add_argument("--compile-batches", type=int, nargs="+", default=[], metavar="B",
                    help="also time torch.compile at these batch sizes (one compilation each)")
    ph = p.add_argument_group("phone photos")
    ph.add_argument("--phone", action="store_true",
                    help="instead of the above: time `prnet reconstruct --kpt` and `--all` on "
                         "12-MP and 48-MP close-ups and an 8000x3888 group photo, three faces "
                         "each (made in a temp folder), each run a child process: seconds per "
                         "image, CPU seconds, peak RSS, bytes written")
    ph.add_argument("--phone-sizes", type=float, nargs="+", default=None, metavar="MP",
                    help="megapixels of the close-ups (default 12 48)")
    ph.add_argument("--phone-groups", nargs="*", default=None, metavar="WxH",
                    help="sizes of the group photos (default 8000x3888; the flag with no size: "
                         "no group photo)")
    ph.add_argument("--phone-repeats", type=int, default=1, metavar="N",
                    help="runs per photo and output flag (default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prnet.errors import PRNetError
    from prnet.eval.bench import format_bench, run_bench
    from prnet.io.text import write_json

    if args.phone:
        return _run_phone(args)
    if args.throughput or str(args.device).startswith("cuda"):
        return _run_throughput(args)
    if args.repeats < 1:
        raise PRNetError(f"--repeats: expected a positive number, got {args.repeats}")
    if args.video_frames < 0:
        raise PRNetError(f"--video-frames: expected 0 or more, got {args.video_frames}")
    if args.batches and min(args.batches) < 1:
        raise PRNetError(f"--batches: expected positive numbers, got {args.batches}")
    baselines = {}
    if "teacher" in args.baseline:
        from prnet.train.teacher import TEACHER_SIZE, TeacherNet

        baselines["teacher"] = (TeacherNet, TEACHER_SIZE)
    result = run_bench(model_options(args), args.image, args.repeats, args.seconds, args.batches,
                       args.dtypes, cuda_graph=not args.no_cuda_graph,
                       log=lambda m: print(m, file=sys.stderr, flush=True), baselines=baselines,
                       video_frames=args.video_frames)
    print(format_bench(result), end="")
    if args.json:
        print(f"wrote {write_json(args.json, result)}")
    return 0


def _run_throughput(args: argparse.Namespace) -> int:
    """``prnet bench --throughput`` / ``--device cuda``: the device path
    (:mod:`prnet.eval.throughput`)."""
    from prnet.errors import PRNetError
    from prnet.eval.throughput import bench_throughput, format_throughput
    from prnet.io.text import write_json

    sizes = [*(args.batches or []), *args.compile_batches, *(args.workers or []),
             *([args.e2e_images] if args.e2e_images is not None else []),
             *([args.e2e_batch] if args.e2e_batch is not None else [])]
    if sizes and min(sizes) < 1:
        raise PRNetError(f"--batches, --workers, --e2e-images, --e2e-batch, --compile-batches: "
                         f"expected positive numbers, got {sizes}")
    result = bench_throughput(model_options(args), args.batches, args.dtypes, args.seconds,
                              not args.no_cuda_graph, args.compile_batches, args.folder,
                              args.e2e_images, args.workers, args.e2e_batch, args.decoders,
                              log=lambda m: print(m, file=sys.stderr, flush=True),
                              image=args.image,
                              partial=(lambda r: write_json(args.json, r)) if args.json else None)
    print(format_throughput(result), end="")
    if args.json:
        print(f"wrote {write_json(args.json, result)}")
    return 0


def _run_phone(args: argparse.Namespace) -> int:
    """``prnet bench --phone``: the phone-photo case (:mod:`prnet.eval.phone`)."""
    from prnet.errors import PRNetError
    from prnet.eval.phone import GROUP_SIZE, PHONE_SIZES, bench_phone, format_phone
    from prnet.io.text import write_json

    sizes = args.phone_sizes or PHONE_SIZES
    if min(sizes) <= 0 or args.phone_repeats < 1:
        raise PRNetError(f"--phone-sizes > 0 and --phone-repeats >= 1, got {sizes}, "
                         f"{args.phone_repeats}")
    groups = [GROUP_SIZE] if args.phone_groups is None else [
        _size(v) for v in args.phone_groups]
    result = bench_phone(sizes, repeats=args.phone_repeats, extra=["--device", args.device],
                         log=lambda m: print(m, file=sys.stderr, flush=True),
                         threads=getattr(args, "threads", None), groups=groups)
    print(format_phone(result), end="")
    if args.json:
        print(f"wrote {write_json(args.json, {'phone': result})}")
    return 0


def _size(text: str) -> tuple[int, int]:
    """``WxH`` → (width, height).

    Raises:
        PRNetError: not two positive integers joined by x.
    """
    from prnet.errors import PRNetError

    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise PRNetError(f"--phone-groups {text!r}: expected WIDTHxHEIGHT, e.g. 8000x3888")
    return int(parts[0]), int(parts[1])
