"""Convert MediaPipe's BlazeFace face-detection models to the bundled safetensors weights.

Downloads the mediapipe wheel (``pip download mediapipe==0.10.21 --no-deps``) into a cache,
extracts the short- and full-range ``.tflite`` files, reads the graph with the ``tflite``
package and the (dequantised, densified) tensor values with ``ai-edge-litert``'s interpreter,
assigns them to :mod:`prnet.detect.blazeface`'s networks in graph order (checking kinds and
shapes), checks the PyTorch outputs against the interpreter, and writes
``src/prnet/assets/blazeface_{short,full}.safetensors``.

Needs: ``pip install tflite ai-edge-litert`` (conversion only; prnet itself does not).

Usage: ``python scripts/convert_blazeface.py [--cache DIR] [--out DIR]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from prnet.detect import blazeface as bf

MEDIAPIPE = "mediapipe==0.10.21"
TFLITE_FILES = {
    "short": "face_detection_short_range.tflite",
    # 0.10.21 ships the full-range model only in its sparse form (same network).
    "full": "face_detection_full_range_sparse.tflite",
}
WHEEL_DIR = "mediapipe/modules/face_detection/"
REPO = Path(__file__).resolve().parents[1]


def default_cache() -> Path:
    """``$PRNET_CACHE/mediapipe``, default ``~/.cache/prnet/mediapipe``."""
    root = os.environ.get("PRNET_CACHE") or Path.home() / ".cache" / "prnet"
    return Path(root) / "mediapipe"


def fetch_tflite(cache: Path) -> dict[str, Path]:
    """Download the wheel if needed and extract the two model files into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = {v: cache / f for v, f in TFLITE_FILES.items()}
    if all(p.is_file() for p in paths.values()):
        return paths
    wheels = sorted(cache.glob("mediapipe-0.10.21-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", MEDIAPIPE, "--no-deps", "-d", str(cache)]
        subprocess.run(cmd, check=True)
        wheels = sorted(cache.glob("mediapipe-0.10.21-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        for variant, path in paths.items():
            path.write_bytes(zf.read(WHEEL_DIR + TFLITE_FILES[variant]))
    return paths


def conv_ops(path: Path) -> list[tuple[str, int, int]]:
    """(kind, weight tensor, bias tensor) of every CONV_2D / DEPTHWISE_CONV_2D, graph order."""
    import tflite
    from tflite.BuiltinOperator import BuiltinOperator

    names = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    out = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            ins = op.InputsAsNumpy()
            out.append((kind, int(ins[1]), int(ins[2])))
    return out


def interpreter(path: Path, keep_all: bool = False):
    """An allocated LiteRT interpreter for ``path``; ``keep_all`` keeps every intermediate
    tensor and runs without XNNPACK (which would leave the dequantised weights unfilled)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if keep_all else OpResolverType.AUTO
    it = Interpreter(
        model_path=str(path),
        experimental_preserve_all_tensors=keep_all,
        experimental_op_resolver_type=kind,
    )
    it.allocate_tensors()
    return it


def run_tflite(it, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw (regressors, classificators) for NHWC float32 input ``x`` (1, S, S, 3)."""
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    outs = sorted(
        (it.get_tensor(o["index"]) for o in it.get_output_details()), key=lambda a: -a.shape[-1]
    )
    return outs[0], outs[1]


def convert(variant: str, path: Path) -> dict[str, torch.Tensor]:
    """State dict (float32) of the ``variant`` network filled from the TFLite file."""
    it = interpreter(path, keep_all=True)
    size = bf.SPECS[variant].input_size
    run_tflite(it, np.zeros((1, size, size, 3), np.float32))  # materialise dequantised consts
    net = bf.NETS[variant]()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    ops = conv_ops(path)
    if len(convs) != len(ops):
        raise SystemExit(f"{variant}: {len(ops)} conv ops in the graph, {len(convs)} in the net")
    for conv, (kind, w_idx, b_idx) in zip(convs, ops):
        w, b = it.get_tensor(w_idx).astype(np.float32), it.get_tensor(b_idx).astype(np.float32)
        # TFLite: conv [O, kh, kw, I], depthwise [1, kh, kw, C]; torch: [O, I/groups, kh, kw].
        w = w.transpose(3, 0, 1, 2) if kind == "DEPTHWISE_CONV_2D" else w.transpose(0, 3, 1, 2)
        if (kind == "DEPTHWISE_CONV_2D") != (conv.groups > 1) or w.shape != conv.weight.shape:
            raise SystemExit(f"{variant}: {kind} {w.shape} does not fit {conv}")
        conv.weight.data = torch.from_numpy(np.ascontiguousarray(w))
        conv.bias.data = torch.from_numpy(b)
    return net.state_dict()


def max_diff(variant: str, state: dict[str, torch.Tensor], path: Path, seed: int = 0) -> float:
    """Largest |torch - tflite| over both raw outputs, on a few random inputs."""
    net = bf.NETS[variant]().eval()
    net.load_state_dict({k: v.float() for k, v in state.items()})
    it = interpreter(path)
    size = bf.SPECS[variant].input_size
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(3):
        x = rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
        ref = run_tflite(it, x)
        with torch.inference_mode():
            got = net(torch.from_numpy(x).permute(0, 3, 1, 2))
        worst = max(worst, *(float(np.abs(g.numpy() - r).max()) for g, r in zip(got, ref)))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=default_cache())
    ap.add_argument("--out", type=Path, default=REPO / "src" / "prnet" / "assets")
    args = ap.parse_args()
    from safetensors.torch import save_file

    for variant, path in fetch_tflite(args.cache).items():
        state = convert(variant, path)
        half = {k: v.half() for k, v in state.items()}
        exact = all(torch.equal(h.float(), state[k]) for k, h in half.items())
        d32 = max_diff(variant, state, path)
        d16 = max_diff(variant, half, path)
        keep = half if exact or d16 <= d32 + 1e-4 else state
        out = args.out / bf.SPECS[variant].file
        # One metadata entry only: safetensors writes several in no fixed order.
        meta = {"source": f"{MEDIAPIPE}:{WHEEL_DIR}{TFLITE_FILES[variant]} (Apache-2.0)"}
        save_file({k: v.contiguous() for k, v in keep.items()}, str(out), metadata=meta)
        out.chmod(0o644)
        sha = hashlib.sha256(out.read_bytes()).hexdigest()
        print(
            f"{variant}: {out.name} {out.stat().st_size} bytes "
            f"dtype={'fp16' if keep is half else 'fp32'} fp16-exact={exact} "
            f"max|torch-tflite| fp32={d32:.2e} fp16={d16:.2e} sha256={sha}"
        )


if __name__ == "__main__":
    main()
