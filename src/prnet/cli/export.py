"""``prnet export onnx`` — the position-map network as an ONNX file (dynamic batch axis)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the network to another format (ONNX)",
                       description="Export the position-map network to another runtime's format.")
    fmt = p.add_subparsers(dest="format", metavar="FORMAT")
    o = fmt.add_parser(
        "onnx", help="the position-map network as ONNX (needs prnet[onnx])",
        description="Write the position-map network as ONNX: input 'crops' float32 (B, 3, 256, "
        "256) RGB in [0, 1], output 'posmap' float32 (B, 3, 256, 256) in crop pixels (mean face "
        "included), dynamic batch axis; the metadata records the model, prnet version, input "
        "normalisation and the weights' sha256. Run it with --onnx FILE on any network command.")
    o.add_argument("-o", "--output", required=True, metavar="FILE", help="the .onnx file to write")
    o.add_argument("--model", default=None, metavar="NAME",
                   help="network name (default: the bundled mobilenet_unet)")
    o.add_argument("--weights", default=None, metavar="FILE",
                   help="safetensors weights to use instead of the bundled ones")
    o.add_argument("--opset", type=int, default=None, metavar="N",
                   help="ONNX opset (default 17)")
    o.add_argument("--detector", choices=["short", "full"], default=None,
                   help="export the bundled BlazeFace network (short 128x128 or full 192x192: "
                        "input 'image' in [-1, 1], outputs 'regressors' and 'logits'; anchor "
                        "decoding and NMS are not in the graph) instead of the position-map "
                        "network")
    o.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from prnet.errors import PRNetError
    from prnet.models.onnx_export import DEFAULT_OPSET, export_onnx
    from prnet.models.weights import DEFAULT_MODEL, load_model, weights_sha256
    from prnet.pipeline.options import ModelOptions

    opts = ModelOptions(model=args.model, weights=args.weights, device="cpu")  # checks the path
    opset = DEFAULT_OPSET if args.opset is None else args.opset
    if not 7 <= opset <= 23:
        raise PRNetError(f"--opset: expected 7 to 23, got {opset}")
    if args.detector:
        if args.model or args.weights:
            raise PRNetError("--detector exports the bundled BlazeFace; --model/--weights are "
                             "for the position-map network")
        from prnet.models.onnx_export import export_detector_onnx

        path = export_detector_onnx(args.detector, args.output, opset)
        print(f"wrote {path} (BlazeFace {args.detector}, opset {opset})")
        return 0
    name = opts.model or DEFAULT_MODEL
    net = load_model(name, opts.weights, "cpu")
    sha = weights_sha256(name, opts.weights)
    path = export_onnx(net, args.output, name, sha, opset)
    print(f"wrote {path} ({name}, weights sha256 {sha[:16]}…, opset {opset})")
    return 0
