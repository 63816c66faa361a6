"""``prnet info`` — versions, device, model, detector, UV layout, BFM cache and licences."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from prnet.cli.options import model_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info", parents=[model_parser()],
        help="versions, device, model, detector, UV layout, BFM cache, licences",
        description="Show what prnet would run with: library versions, the compute device, "
                    "the model (weights file, sha256, parameter count, licence), the face "
                    "detector, the UV layout and the BFM cache. Exit status 1 when the model "
                    "cannot be loaded.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _versions() -> dict[str, Any]:
    import cv2
    import numpy
    import torch

    from prnet import __version__

    return {
        "prnet": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "pillow": _version("pillow"),
        "scipy": _version("scipy"),
        "safetensors": _version("safetensors"),
        "platform": platform.platform(),
    }


def _device() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda else [],
        "default_device": "cuda" if cuda else "cpu",
        "cpu_threads": torch.get_num_threads(),
    }


def _model(name: str | None, weights: str | None) -> dict[str, Any]:
    from prnet.models.weights import BUNDLED, DEFAULT_MODEL, load_model, read_weights_meta
    from prnet.weights import file_sha256

    name = name or DEFAULT_MODEL
    spec = BUNDLED.get(name)
    path = Path(weights) if weights else (spec.path if spec else None)
    out: dict[str, Any] = {"name": name, "weights": None if path is None else str(path),
                           "bundled": weights is None and spec is not None}
    if path is not None and path.is_file():
        out["size_bytes"] = path.stat().st_size
        out["sha256"] = file_sha256(path)
        if out["bundled"]:
            out["sha256_ok"] = out["sha256"] == spec.sha256
    out["licence"] = spec.licence if (spec and out["bundled"]) else "see the weights' provider"
    try:
        net = load_model(name, weights, "cpu")
        out["parameters"] = int(sum(p.numel() for p in net.parameters()))
        if path is not None:
            out["metadata"] = read_weights_meta(path)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: info must always print
        out["error"] = " ".join(str(exc).split())
    return out


def _detector(name: str) -> dict[str, Any]:
    from prnet.detect import available_detectors

    avail = available_detectors()
    out: dict[str, Any] = {"name": name, "available": sorted(avail)}
    if name not in avail:
        out["error"] = f"unknown detector {name!r}"
        return out
    out["description"] = avail[name]
    if name.startswith("blazeface"):
        from prnet.weights import entries

        detectors = [e for e in entries("detector") if e.name.startswith("blazeface")]
        out["weights"] = {e.model: str(e.path) for e in detectors}
        out["licence"] = detectors[0].licence
    return out


def _bundled_weights() -> dict[str, Any]:
    """Every entry of the weights registry: kind, file, input size and whether its sha256 holds."""
    from prnet.weights import entries, file_sha256

    out: dict[str, Any] = {}
    for e in entries():
        ok = e.path.is_file() and file_sha256(e.path) == e.sha256
        out[e.name] = (f"{e.kind}, {e.file}, input {e.input_size}², "
                       f"sha256 {'ok' if ok else 'MISMATCH or missing'}")
    return out


def _uv() -> dict[str, Any]:
    from prnet.uv.layout import RES, default_landmark_texels_path, default_layout_path, load_layout

    lay = load_layout()
    calibrated = bool((lay.kpt_uv != lay.kpt_uv_bfm).any())
    return {"file": str(default_layout_path()), "resolution": RES,
            "face_texels": lay.n_vertices, "triangles": int(lay.triangles.shape[0]),
            "landmarks": int(lay.kpt_uv.shape[0]),
            "landmark_texels": str(default_landmark_texels_path()) + " (calibrated to AFLW2000-3D)"
            if calibrated else "BFM keypoint texels"}


def _bfm() -> dict[str, Any]:
    from prnet.bfm import model as bfm_model

    folder = bfm_model.bfm_cache_dir()
    files = getattr(bfm_model, "_FILES", ("w_shp_sim.npy",))
    missing = [f for f in files if not (folder / f).is_file()]
    return {"cache": str(folder), "cached": not missing, "missing": missing,
            "note": "needed for training and evaluation only; fetch with `prnet bfm fetch`"}


def collect(model: str | None = None, weights: str | None = None,
            detector: str = "blazeface") -> dict[str, Any]:
    """Everything ``prnet info`` shows, as a JSON-ready dict."""
    return {
        "versions": _versions(),
        "device": _device(),
        "model": _model(model, weights),
        "detector": _detector(detector),
        "bundled_weights": _bundled_weights(),
        "uv_layout": _uv(),
        "bfm": _bfm(),
        "licence": "code: MIT; bundled model weights: non-commercial research only (see "
                   "MODEL_CARD.md); BlazeFace weights: Apache-2.0 (assets/NOTICE.blazeface)",
    }


def _text(info: dict[str, Any]) -> str:
    lines = []
    for section, body in info.items():
        if not isinstance(body, dict):
            lines.append(f"{section}: {body}")
            continue
        lines.append(f"{section}:")
        width = max(map(len, body)) if body else 0
        for k, v in body.items():
            if isinstance(v, dict):
                v = ", ".join(f"{a}={b}" for a, b in v.items()) or "-"
            elif isinstance(v, list):
                v = ", ".join(map(str, v)) or "-"
            lines.append(f"  {k:<{width}}  {v}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = collect(args.model, args.weights, args.detector)
    try:
        print(json.dumps(info, indent=2) if args.json else _text(info), flush=True)
    except BrokenPipeError:  # `prnet info | head`: stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    errors = [f"{s}: {info[s]['error']}" for s in ("model", "detector") if "error" in info[s]]
    for e in errors:
        print(f"prnet: error: {e}", file=sys.stderr)
    return 1 if errors else 0
