"""``prnet eval aflw2000 DIR`` — the AFLW2000-3D benchmark (see :mod:`prnet.eval.protocol`)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from prnet.cli.options import load_prn, model_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate on a benchmark (AFLW2000-3D)",
                       description="Evaluate the model on a benchmark.")
    bench = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    a = bench.add_parser(
        "aflw2000", parents=[model_parser()], help="AFLW2000-3D: 68-point NME 2D/3D by yaw bin, dense/reconstruction "
        "NME (approximate), pose MAE",
        description="AFLW2000-3D protocol (PRNet/3DDFA): 68-point NME normalised by sqrt(w*h) of "
        "the ground-truth landmark box, by |yaw| bin (0-30, 30-60, 60-90), balanced and overall "
        "mean; dense and 3D reconstruction NME against meshes rebuilt from the .mat parameters "
        "with the BFM (approximate: 40 shape / 10 expression components; needs `prnet bfm "
        "fetch`); pose MAE. Detector failures are counted, never dropped.")
    a.add_argument("dir", type=Path, help="folder of AFLW2000-3D .jpg + .mat pairs (any subset)")
    a.add_argument("--crop", choices=["gt", "detector"], default="gt",
                   help="gt: crop from the ground-truth landmark box (PRNet run_basics, the "
                   "convention); detector: from the face detector's box (default: gt)")
    a.add_argument("--baseline", choices=["teacher"], action="append", default=[],
                   help="also evaluate the 3DDFA_V2 teacher (GT-landmark crops) side by side")
    a.add_argument("--teacher-dir", type=Path, default=None,
                   help="3DDFA_V2 teacher folder (weights/mb05_120x120.pth, configs/...pkl); "
                   "required with --baseline teacher, needs prnet[train]")
    a.add_argument("--limit", type=int, default=None, help="only the first N images (by name)")
    a.add_argument("--json", type=Path, default=None, help="write the summary as JSON")
    a.add_argument("--csv", type=Path, default=None, help="write per-image results as CSV")
    a.add_argument("--md", type=Path, default=None, help="write the Markdown tables")
    a.add_argument("--ced", type=Path, default=None, help="write the CED plot (2D NME) as PNG")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    a.set_defaults(func=run_aflw2000)


def run_aflw2000(args: argparse.Namespace) -> int:
    from prnet.bfm import load_bfm
    from prnet.errors import AssetMissingError, PRNetError
    from prnet.eval.aflw2000 import load_aflw2000
    from prnet.eval.protocol import PRNPredictor, evaluate_aflw2000
    from prnet.io.text import write_json
    from prnet.pipeline import DETECTOR_CROP

    if not args.dir.is_dir():
        raise PRNetError(f"not a folder: {args.dir}")
    if args.limit is not None and args.limit < 1:
        raise PRNetError(f"--limit: expected a positive number, got {args.limit}")
    teacher_dir = None
    if "teacher" in args.baseline:
        teacher_dir = args.teacher_dir
        if teacher_dir is None:
            raise PRNetError("--baseline teacher needs --teacher-dir DIR (the 3DDFA_V2 teacher folder)")
        if not (teacher_dir / "weights" / "mb05_120x120.pth").is_file():
            raise AssetMissingError(
                f"3DDFA_V2 teacher not found in {teacher_dir} (needs weights/mb05_120x120.pth and "
                "configs/param_mean_std_62d_120x120.pkl): pass --teacher-dir DIR")
    samples = load_aflw2000(args.dir, limit=args.limit)
    bfm = load_bfm(fetch=False)
    prn = load_prn(args)
    ours = f"prnet ({args.model or 'bundled'})" if not args.weights else f"prnet ({Path(args.weights).name})"
    ours += (f", {args.tta} TTA" if args.tta != "off" else "") + (f", {args.precision}" if args.precision != "fp32" else "") + (", refined crop" if args.refine else "")
    predictors = {"prnet": PRNPredictor(prn, args.crop)}
    labels = {"prnet": f"{ours}, {args.crop} crop"}
    if teacher_dir is not None:
        try:
            from prnet.train.baseline import teacher_baseline
        except ModuleNotFoundError as exc:
            raise PRNetError(f"--baseline teacher needs {exc.name}: pip install \"prnet[train]\"") from None
        predictors["teacher"] = teacher_baseline(teacher_dir, bfm, prn.layout)
        labels["teacher"] = "3DDFA_V2 teacher, gt crop"
    meta = {"data": str(args.dir), "crop": args.crop, "model": args.model, "weights": args.weights,
            "device": prn.device, "labels": labels,
            "detector": args.detector if args.crop == "detector" else None,
            "detector_crop": dict(DETECTOR_CROP) if args.crop == "detector" else None}
    t0 = time.perf_counter()
    ev = evaluate_aflw2000(samples, predictors, bfm, prn.layout, progress=not args.no_progress,
                           meta=meta)
    ev.meta["seconds"] = round(time.perf_counter() - t0, 1)
    md = ev.markdown()
    print(md, end="")
    if args.json:
        write_json(args.json, ev.summary())
        print(f"wrote {args.json}")
    if args.csv:
        print(f"wrote {ev.write_csv(args.csv)}")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(md, encoding="utf-8")
        print(f"wrote {args.md}")
    if args.ced:
        print(f"wrote {ev.plot_ced(args.ced)}")
    if not args.json:
        s = ev.summary()
        print(json.dumps({k: s[k] for k in ("n_images", "failures", "nme2d_balanced", "nme3d_balanced")}))
    return 0
