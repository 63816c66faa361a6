"""Speed benchmarks (figures are printed and returned, never asserted).

* :func:`bench_network` — network forward time and throughput per (dtype, batch size).
* :func:`bench_cuda_graph` — batch-1 latency replaying a captured CUDA graph.
* :func:`bench_stage4` — the same for the pipeline's own stage-4 callable (any backend).
* :func:`bench_pipeline` — per-stage wall time of the whole PRN pipeline on one image
  (decode, detect, crop, network, post-processing, render/visibility, pose, exports).
* :func:`run_bench` — all of it plus hardware information, as one JSON-ready dict.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prnet.errors import PRNetError
from prnet.geometry.crop import CROP
from prnet.models import create_model
from prnet.models.precision import cpu_has_bf16
from prnet.pipeline.options import ModelOptions

__all__ = [
    "PIPELINE_STAGES",
    "bench_cuda_graph",
    "bench_network",
    "bench_pipeline",
    "bench_stage4",
    "default_batches",
    "format_bench",
    "hardware_info",
    "run_bench",
]

#: Stage names of :func:`bench_pipeline`, in order.
PIPELINE_STAGES: tuple[str, ...] = (
    "decode", "detect", "crop", "network", "postprocess", "render_visibility", "pose", "export",
)

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _sync(device: str | torch.device) -> None:
    """Wait for ``device``'s queued kernels (a no-op off CUDA) before reading a clock."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def capture_cuda_graph(net: torch.nn.Module, x: torch.Tensor,
                       context: Callable[[], Any] = nullcontext) -> torch.cuda.CUDAGraph:
    """``net(x)`` captured in a CUDA graph, after 3 warm-up passes on a side stream (as torch's
    documentation asks); ``context()`` (e.g. an autocast) is entered around both."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), context():
        for _ in range(3):
            net(x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), context():
        net(x)
    return graph


@torch.inference_mode()
def bench_network(
    name: str = "mobilenet_unet", device: str = "cpu", dtypes: tuple[str, ...] = ("fp32",),
    batches: tuple[int, ...] = (1,), channels_last: bool = False, seconds: float = 2.0,
    model: torch.nn.Module | None = None, min_iters: int = 3, warmup: int = 3, size: int = CROP,
) -> list[dict]:
    """Network forward time per batch and throughput for each (dtype, batch size).

    Each configuration gets ``warmup`` passes, then runs for ``seconds`` (at least
    ``min_iters`` passes, each synchronised: no overlap of consecutive batches). ``model`` (default: a fresh ``create_model(name)``, whose random
    weights run as fast as trained ones) is moved to ``device`` and cast in place; ``size``: the
    side of its square input (256; 120 for the 3DDFA_V2 teacher).

    Returns:
        One dict per configuration: model, device, dtype, batch, channels_last,
        ms_per_batch (mean), ms_per_batch_min (fastest pass: the figure least disturbed by
        other load on a shared machine), ms_per_image, img_per_s.
    """
    model = (model or create_model(name)).eval().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    rows = []
    for dt in dtypes:
        dtype = _DTYPES[dt]
        m = model.to(dtype) if dt != "fp32" else model.float()
        for b in batches:
            x = torch.rand(b, 3, size, size, device=device, dtype=dtype)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)

            def step(m=m, x=x) -> None:
                m(x)
                _sync(device)

            rows.append({"model": name, "backend": "torch", "device": str(device), "dtype": dt,
                         "batch": b, "channels_last": channels_last,
                         **_timing(step, b, seconds, min_iters, warmup)})
        model.float()
    return rows


def _timing(step: Callable[[], object], batch: int, seconds: float, min_iters: int,
            warmup: int) -> dict[str, float]:
    """Time ``step`` (one synchronised pass over ``batch`` inputs) after ``warmup`` passes, for
    ``seconds`` and at least ``min_iters`` passes: ms_per_batch (mean), ms_per_batch_min
    (fastest pass), ms_per_image, img_per_s."""
    for _ in range(warmup):
        step()
    n, t0, best = 0, time.perf_counter(), float("inf")
    while time.perf_counter() - t0 < seconds or n < min_iters:
        t1 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t1)
        n += 1
    dt_s = (time.perf_counter() - t0) / n
    return {"ms_per_batch": round(dt_s * 1e3, 3), "ms_per_batch_min": round(best * 1e3, 3),
            "ms_per_image": round(dt_s * 1e3 / batch, 4), "img_per_s": round(batch / dt_s, 1)}


def bench_stage4(network: Any, name: str, batches: Sequence[int] = (1,), seconds: float = 1.0,
                 min_iters: int = 3, warmup: int = 1) -> list[dict]:
    """:func:`bench_network` for a pipeline's stage-4 callable (``prn.network``: its
    ``forward`` on its own ``input`` of random crops, output copied to numpy), whatever its
    backend (``network.backend``, "torch" when it has none)."""
    backend = getattr(network, "backend", "torch")
    rows = []
    with torch.inference_mode():
        for b in batches:
            x = network.input(np.random.default_rng(b).integers(0, 256, (b, CROP, CROP, 3),
                                                                np.uint8))
            rows.append({"model": name, "backend": backend, "device": "cpu", "dtype": "fp32",
                         "batch": b, "channels_last": None,
                         **_timing(lambda x=x: network.forward(x), b, seconds, min_iters, warmup)})
    return rows


def bench_cuda_graph(
    name: str = "mobilenet_unet", device: str = "cuda", dtype: str = "fp16",
    channels_last: bool = True, seconds: float = 1.0, model: torch.nn.Module | None = None,
) -> dict:
    """Batch-1 latency of a CUDA-graph replay (``torch.cuda.CUDAGraph``) of the network.

    Returns:
        {"dtype", "channels_last", "ms_per_batch"} — or {"error": message} when the capture
        fails (the benchmark goes on).
    """
    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return {"error": "CUDA graphs need a CUDA device"}
    try:
        with torch.no_grad():
            m = (model or create_model(name)).eval().to(device).to(_DTYPES[dtype])
            if channels_last:
                m = m.to(memory_format=torch.channels_last)
            x = torch.rand(1, 3, CROP, CROP, device=device, dtype=_DTYPES[dtype])
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            graph = capture_cuda_graph(m, x)
            for _ in range(3):
                graph.replay()
            torch.cuda.synchronize()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds or n < 10:
                graph.replay()
                n += 1
            torch.cuda.synchronize()
            ms = (time.perf_counter() - t0) / n * 1e3
        return {"dtype": dtype, "channels_last": channels_last, "batch": 1,
                "ms_per_batch": round(ms, 4)}
    except Exception as exc:  # noqa: BLE001 - report, do not abort the benchmark
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def _timed(fn: Callable[[], Any], device: str) -> tuple[Any, float]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return out, (time.perf_counter() - t0) * 1e3


def bench_pipeline(prn: Any, image_bytes: bytes, repeats: int = 5,
                   out_dir: str | Path | None = None) -> dict[str, Any]:
    """Per-stage wall time (ms per face, median over ``repeats`` after one warm-up) of the
    whole pipeline on one encoded image.

    Stages (those of :class:`prnet.PRN`): ``decode`` (bytes → RGB), ``detect``, ``crop`` (crop
    plans + warps), ``network`` (position maps; with ``prn.tta`` the mirrored and shifted crops
    too), ``postprocess`` (back-projection, landmarks, vertices, colours),
    ``render_visibility`` (z-buffer + vertex visibility), ``pose``, ``export`` (the outputs
    registry's obj, ply, kpt and pose files into a temporary folder).

    Args:
        prn: a :class:`prnet.PRN`.
        image_bytes: the encoded image (JPEG, PNG, …).
        repeats: timed repetitions (≥ 1).
        out_dir: folder for the exports (default: a fresh temporary folder, removed after).

    Returns:
        ``{"faces", "repeats", "stages_ms_per_face": {stage: ms}, "e2e_ms_per_face",
        "e2e_faces_per_s", "image_shape"}`` plus ``stages_ms_per_face_min`` and
        ``e2e_ms_per_face_min`` (fastest repeat: least disturbed by other load).

    Raises:
        PRNetError: no face in the image, or ``repeats < 1``.
    """
    from prnet.io import read_image
    from prnet.outputs import ExportOptions, export_face

    outputs = ExportOptions.from_names(["obj", "ply", "kpt", "pose"])

    if repeats < 1:
        raise PRNetError(f"repeats: expected ≥ 1, got {repeats}")
    device = str(prn.device)
    times: dict[str, list[float]] = {s: [] for s in PIPELINE_STAGES}
    totals: list[float] = []
    n_faces = 0
    img_shape: tuple[int, ...] = ()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out_dir or tmp)
        for rep in range(repeats + 1):
            t: dict[str, float] = {}
            img, t["decode"] = _timed(lambda: read_image(image_bytes), device)
            dets, t["detect"] = _timed(lambda img=img: prn.detect(img), device)
            if not dets:
                raise PRNetError("bench: no face found in the benchmark image")

            def crop(img=img, dets=dets):
                plans = prn.plan(dets)
                return plans, prn.crop(img, plans)

            (plans, batch), t["crop"] = _timed(crop, device)
            pms, t["network"] = _timed(lambda batch=batch: prn.predict_crops(batch.crops), device)

            def post(img=img, plans=plans, batch=batch, pms=pms):
                faces = prn.faces(img, plans, prn.uncrop(batch, pms))
                for f in faces:
                    _ = f.landmarks, f.vertices, f.colors
                return faces

            faces, t["postprocess"] = _timed(post, device)
            _, t["render_visibility"] = _timed(lambda fs=faces: [f.visibility for f in fs], device)
            _, t["pose"] = _timed(lambda fs=faces: [f.pose for f in fs], device)

            def export(faces=faces, rep=rep):
                for f in faces:
                    export_face(f, folder, f"face{rep}", outputs)

            _, t["export"] = _timed(export, device)
            if rep == 0:  # warm-up
                continue
            n_faces = len(faces)
            img_shape = tuple(img.shape)
            for k, v in t.items():
                times[k].append(v / n_faces)
            totals.append(sum(t.values()) / n_faces)
    stages = {k: round(float(np.median(v)), 3) for k, v in times.items()}
    e2e = float(np.median(totals))
    return {"faces": n_faces, "repeats": repeats, "image_shape": list(img_shape),
            "stages_ms_per_face": stages, "e2e_ms_per_face": round(e2e, 3),
            "e2e_faces_per_s": round(1e3 / e2e, 2),
            "stages_ms_per_face_min": {k: round(float(np.min(v)), 3) for k, v in times.items()},
            "e2e_ms_per_face_min": round(float(np.min(totals)), 3)}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_info(device: str = "cpu") -> dict[str, Any]:
    """CPU model, cores, torch threads, torch/numpy/Python versions and the GPU (if any)."""
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "gpu_name": None,
    }
    if torch.cuda.is_available():
        idx = (torch.device(device).index or 0) if str(device).startswith("cuda") else 0
        props = torch.cuda.get_device_properties(idx)
        info.update({"gpu_name": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1),
                     "cuda_version": torch.version.cuda,
                     "cudnn_version": torch.backends.cudnn.version()})
    return info


def default_batches(device: str) -> tuple[int, ...]:
    """Batch sizes of the throughput table: (1, 8, 32) on the CPU, (1, 64, 256) on CUDA."""
    return (1, 64, 256) if str(device).startswith("cuda") else (1, 8, 32)


def run_bench(
    options: ModelOptions | str = "cpu", image: str | Path | None = None, repeats: int = 5,
    seconds: float = 1.0, batches: Sequence[int] | None = None,
    dtypes: Sequence[str] | None = None, cuda_graph: bool = True,
    log: Callable[[str], None] | None = None,
    baselines: dict[str, tuple[Callable[[], torch.nn.Module], int]] | None = None,
    video_frames: int = 300, backends: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The whole benchmark: pipeline stages, network latency/throughput, hardware, and the
    real-time figures per backend.

    The throughput table covers channels-last (the layout :class:`prnet.PRN` runs) and
    contiguous tensors; on CUDA in fp32/fp16/bf16 (``dtypes`` to restrict) plus a CUDA-graph
    batch-1 latency, on the CPU in fp32, and bf16 where the CPU has it natively (one warm-up pass
    per configuration). ``options`` (:class:`~prnet.pipeline.ModelOptions`, or a device name for
    the defaults) build the timed :class:`prnet.PRN`; its ``tta`` applies to the pipeline only:
    the throughput table times single network passes. With ``options.backend`` resolving to
    onnxruntime, its stage-4 callable is timed at the same batch sizes next to torch's rows.

    ``baselines`` (name → (network factory, input side)), e.g. the 3DDFA_V2 teacher at 120×120
    (random weights: they run as fast as trained ones): each is timed at batch 1 on the same
    device and threads, and the pipeline's end to end is restated with its network stage swapped
    for it (``e2e_ms_per_face_swapped``: our pipeline minus our network stage plus its
    batch-1 network time; its own decoding of the output is not timed).

    ``backends`` (default: torch, and onnxruntime when installed and the run is fp32 on the
    CPU; :func:`~prnet.eval.bench_backends.available_backends`): each gets
    :func:`~prnet.eval.bench_backends.bench_backends` (all timed in turns) —
    ``e2e_ms_per_face``, ``landmarks_pose_ms_per_face``, ``dense_ms_per_face`` (landmarks, pose,
    dense vertices and colours; no file), ``network_ms_b1``, ``detect_ms``,
    ``video_fps_640x480`` (``video_frames`` frames through the ``prnet video`` tracking path; 0
    skips it) and ``video_mesh_fps_640x480`` (the same with the mesh drawn into the output video).

    Returns:
        A JSON-ready dict with ``hardware``, ``pipeline`` (:func:`bench_pipeline`),
        ``e2e_ms_per_face``, ``e2e_faces_per_s``, ``stages_ms_per_face``, ``network_ms_b1``
        (the pipeline's backend, fp32, channels-last for torch, batch 1),
        ``network_ms_b1_torch``, ``network_ms_b1_contiguous``, ``backend``, ``throughput``
        (:func:`bench_network` / :func:`bench_stage4` rows), ``baselines`` (when given) and
        ``cuda_graph_b1`` (CUDA only), ``writers_ms_per_face``
        (:func:`~prnet.eval.bench_writers.bench_writers` on the image's first face),
        ``backends`` (backend → its real-time figures) and,
        for the pipeline's own backend, ``landmarks_pose_ms_per_face``, ``dense_ms_per_face``,
        ``detect_ms``, ``video_fps_640x480`` and ``video_mesh_fps_640x480``.

    Raises:
        PRNetError: CUDA requested but not available, unreadable image, no face found.
    """
    from prnet import PRN
    from prnet.eval.bench_writers import bench_writers
    from prnet.io import read_image
    from prnet.models.weights import DEFAULT_MODEL
    from prnet.pipeline.prn import resolve_device

    opts = ModelOptions(device=options) if isinstance(options, str) else options
    model, weights = opts.model, opts.weights
    device = resolve_device(opts.device)
    say = log or (lambda _msg: None)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    path = Path(image) if image else Path(str(_default_image()))
    if not path.is_file():
        raise PRNetError(f"benchmark image not found: {path}")
    name = model or DEFAULT_MODEL
    t0 = time.perf_counter()
    prn = PRN(options=opts)
    say(f"pipeline: {path.name}, {repeats} repeats on {device}, TTA {prn.tta}")
    pipe = bench_pipeline(prn, path.read_bytes(), repeats=repeats)
    is_cuda = str(device).startswith("cuda")
    batches = tuple(batches or default_batches(device))
    dtypes = tuple(dtypes or (("fp32", "fp16", "bf16") if is_cuda else ("fp32", "bf16") if cpu_has_bf16()
                              else ("fp32",)))
    rows: list[dict] = []
    for cl in (True, False):
        say(f"network: {name}, dtypes {'/'.join(dtypes)}, batches {batches}, "
            f"channels_last={cl}")
        rows += bench_network(name, device, dtypes, batches, channels_last=cl, seconds=seconds,
                              model=create_model(name), warmup=3 if is_cuda else 1)

    def b1(cl: bool) -> float:
        hit = [r for r in rows if r["batch"] == 1 and r["dtype"] == "fp32"
               and r["channels_last"] == cl]
        if not hit:
            hit = bench_network(name, device, ("fp32",), (1,), cl, seconds, create_model(name))
        return hit[0]["ms_per_batch"]

    torch_b1 = ours_b1 = b1(True)
    if prn.backend != "torch":
        say(f"network: {name} through {prn.backend}, batches {batches}")
        rows += bench_stage4(prn.network, name, batches, seconds)
        hit = [r for r in rows if r["backend"] == prn.backend and r["batch"] == 1]
        ours_b1 = (hit or bench_stage4(prn.network, name, (1,), seconds))[0]["ms_per_batch"]
    out: dict[str, Any] = {
        "hardware": hardware_info(device),
        "model": name,
        "backend": prn.backend,
        "weights": str(weights) if weights else "bundled",
        "image": str(path),
        "tta": prn.tta,
        "network_ms_b1": ours_b1,
        "network_ms_b1_torch": torch_b1,
        "network_ms_b1_contiguous": b1(False),
        "e2e_ms_per_face": pipe["e2e_ms_per_face"],
        "e2e_faces_per_s": pipe["e2e_faces_per_s"],
        "stages_ms_per_face": pipe["stages_ms_per_face"],
        "pipeline": pipe,
        "throughput": rows,
    }
    if is_cuda and cuda_graph:
        say("network: CUDA graph, batch 1")
        out["cuda_graph_b1"] = {dt: bench_cuda_graph(name, device, dt, True, seconds,
                                                     create_model(name))
                                for dt in dtypes}
    if baselines:
        out["baselines"] = {}
        for bname, (factory, size) in baselines.items():
            say(f"baseline: {bname} network ({size}x{size}), batch 1")
            row = bench_network(bname, device, ("fp32",), (1,), channels_last=True,
                                seconds=seconds, model=factory(), size=size,
                                warmup=3 if is_cuda else 1)[0]
            e2e = pipe["e2e_ms_per_face"] - pipe["stages_ms_per_face"]["network"] + row["ms_per_batch"]
            out["baselines"][bname] = {
                "input_size": size, "network_ms_b1": row["ms_per_batch"],
                "network_ms_b1_min": row["ms_per_batch_min"],
                "ours_over_baseline": round(out["network_ms_b1_torch"] / row["ms_per_batch"], 2),
                "ours_backend_over_baseline": round(ours_b1 / row["ms_per_batch"], 2),
                "e2e_ms_per_face_swapped": round(e2e, 3)}
    say(f"writers: every output of one face, {repeats} writes each, with and without fsync")
    out["writers_ms_per_face"] = bench_writers(prn.reconstruct(read_image(path.read_bytes()))[0],
                                               repeats)
    out["backends"] = _per_backend(prn, opts, path.read_bytes(), name, repeats, seconds,
                                   video_frames, backends, say)
    own = out["backends"].get(prn.backend, {})
    for key in ("landmarks_pose_ms_per_face", "dense_ms_per_face", "detect_ms", "video_fps_640x480",
                "video_mesh_fps_640x480"):
        if key in own:
            out[key] = own[key]
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _per_backend(prn: Any, opts: ModelOptions, image_bytes: bytes, name: str, repeats: int,
                 seconds: float, video_frames: int, backends: Sequence[str] | None,
                 say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """:func:`~prnet.eval.bench_backends.bench_backends` over ``backends`` (``prn`` for its
    own, a new PRN with the same options for each other), and, when the run times the bundled
    default network, the bundled fast network on each backend too (keys ``"<backend>+fast"``),
    and in onnxruntime at int8 (``"onnxruntime+fast+int8"``)."""
    from prnet import PRN
    from prnet.eval.bench_backends import available_backends, bench_backends
    from prnet.models.weights import DEFAULT_MODEL, is_bundled

    wanted = list(backends) if backends is not None else available_backends(
        str(prn.device), prn.precision)
    prns = {b: prn if b == prn.backend else PRN(options=opts.replace(backend=b, onnx=None))
            for b in wanted}
    if is_bundled("fast") and name == DEFAULT_MODEL and opts.weights is None and opts.onnx is None:
        prns.update({f"{b}+fast": PRN(options=opts.replace(backend=b, onnx=None, model="fast"))
                     for b in wanted})
        if "onnxruntime" in wanted and opts.precision == "fp32":
            prns["onnxruntime+fast+int8"] = PRN(options=opts.replace(
                backend="onnxruntime", onnx=None, model="fast", precision="int8"))
    return bench_backends(prns, image_bytes, repeats, seconds, video_frames, name, log=say)


def _default_image() -> Path:
    from importlib import resources

    return Path(str(resources.files("prnet") / "assets" / "astronaut.jpg"))


def _backend_table(result: dict[str, Any]) -> list[str]:
    """The per-backend real-time table of :func:`format_bench` (empty without ``backends``)."""
    per = result.get("backends") or {}
    if not per:
        return []
    teacher = (result.get("baselines") or {}).get("teacher")
    title = ("Per backend (ms; landmarks+pose: detect, crop, network, uncrop, landmarks, pose; "
             "+dense: also dense vertices and colours, no file; e2e: the whole pipeline with "
             "exports; video: the `prnet video` tracking path at 640x480, no drawing; "
             "+mesh: with the mesh drawn into the output video):")
    head = (f"  {'backend':<21} {'e2e/face':>9} {'lmk+pose/face':>14} {'+dense/face':>12} "
            f"{'network b1':>11} {'detect':>8} {'video fps':>10} {'+mesh fps':>10}")
    lines = ["", title, head]

    def cell(v: Any, width: int, fmt: str = ".2f") -> str:
        return f"{v:{width}{fmt}}" if isinstance(v, (int, float)) else f"{'-':>{width}}"

    for b, r in per.items():
        lines.append(f"  {b:<21} {cell(r.get('e2e_ms_per_face'), 9)} "
                     f"{cell(r.get('landmarks_pose_ms_per_face'), 14)} "
                     f"{cell(r.get('dense_ms_per_face'), 12)} "
                     f"{cell(r.get('network_ms_b1'), 11)} {cell(r.get('detect_ms'), 8)} "
                     f"{cell(r.get('video_fps_640x480'), 10, '.1f')} "
                     f"{cell(r.get('video_mesh_fps_640x480'), 10, '.1f')}")
    if teacher:
        lines.append(f"  {'teacher net':<21} {cell(teacher.get('e2e_ms_per_face_swapped'), 9)} "
                     f"{'-':>14} {'-':>12} {cell(teacher.get('network_ms_b1'), 11)} {'-':>8} "
                     f"{'-':>10} {'-':>10}   (3DDFA_V2 network in place of ours, torch)")
    return lines


def _writers_table(result: dict[str, Any]) -> list[str]:
    """The per-output writing times of :func:`format_bench` (empty without them)."""
    w = result.get("writers_ms_per_face") or {}
    if not w:
        return []
    names = list(w["fsync"])
    title = ("Writing one face's output, ms (results computed before; each file fsync-ed as "
             "by default / with prnet --no-fsync):")
    return ["", title,
            "  " + " ".join(f"{n:>8}" for n in ["", *names]),
            "  " + " ".join(f"{v:>8}" for v in ["fsync", *(f"{w['fsync'][n]:.2f}" for n in names)]),
            "  " + " ".join(f"{v:>8}" for v in ["no fsync",
                                                *(f"{w['no_fsync'][n]:.2f}" for n in names)])]


def report_head(title: str, result: dict[str, Any]) -> str:
    """The first line of a bench report: what ran, on which hardware (``result["hardware"]``
    from :func:`hardware_info`)."""
    hw = result["hardware"]
    gpu = f", GPU {hw['gpu_name']}" if hw.get("gpu_name") else ""
    return (f"{title}: {result['model']} on {hw['device']} — CPU {hw['cpu_model']} "
            f"({hw['cpu_count']} cores, {hw['torch_threads']} torch threads){gpu}, "
            f"torch {hw['torch_version']}")


def format_bench(result: dict[str, Any]) -> str:
    """A plain-text report of :func:`run_bench`'s result."""
    lines = [report_head("prnet bench", result), ""]
    pipe = result["pipeline"]
    tta = result.get("tta", "off")
    lines.append(f"Pipeline per face ({pipe['faces']} face(s) in a {pipe['image_shape'][1]}x"
                 f"{pipe['image_shape'][0]} image, median of {pipe['repeats']} repeats"
                 f"{'' if tta == 'off' else f', TTA {tta}'}):")
    mins = pipe.get("stages_ms_per_face_min", {})
    lines.append(f"  {'stage':<20} {'ms/face':>9} {'min':>9}")
    for k, v in result["stages_ms_per_face"].items():
        lines.append(f"  {k:<20} {v:9.2f} {mins.get(k, float('nan')):9.2f}")
    lines.append(f"  {'end to end':<20} {result['e2e_ms_per_face']:9.2f} "
                 f"{pipe.get('e2e_ms_per_face_min', float('nan')):9.2f}   "
                 f"({result['e2e_faces_per_s']:.1f} faces/s)")
    lines += _backend_table(result)
    lines += _writers_table(result)
    lines.append("")
    backend = result.get("backend", "torch")
    lines.append(f"Network ({result['model']}, {backend}): batch-1 latency "
                 f"{result['network_ms_b1']:.2f} ms (fp32"
                 f"{', channels-last' if backend == 'torch' else ''} as in the pipeline)")
    lines.append(f"  {'backend':<12} {'dtype':<6} {'ch-last':<8} {'batch':>5} {'ms/batch':>10} "
                 f"{'min':>9} {'ms/img':>8} {'img/s':>9}")
    for r in result["throughput"]:
        cl = "-" if r["channels_last"] is None else str(r["channels_last"])
        lines.append(f"  {r.get('backend', 'torch'):<12} {r['dtype']:<6} {cl:<8} {r['batch']:5d} "
                     f"{r['ms_per_batch']:10.2f} {r.get('ms_per_batch_min', float('nan')):9.2f} "
                     f"{r['ms_per_image']:8.3f} {r['img_per_s']:9.1f}")
    for dt, g in (result.get("cuda_graph_b1") or {}).items():
        txt = g["error"] if "error" in g else f"{g['ms_per_batch']:.3f} ms"
        lines.append(f"  CUDA graph batch 1 {dt}: {txt}")
    for bname, b in (result.get("baselines") or {}).items():
        lines.append("")
        lines.append(f"Baseline {bname} ({b['input_size']}x{b['input_size']} input, random weights): "
                     f"network batch 1 {b['network_ms_b1']:.2f} ms (min {b['network_ms_b1_min']:.2f})"
                     f" vs ours {result['network_ms_b1_torch']:.2f} ms (torch): ours/{bname} "
                     f"{b['ours_over_baseline']:.2f}x"
                     + ("" if backend == "torch" else
                        f"; ours through {backend} {result['network_ms_b1']:.2f} ms: "
                        f"{b['ours_backend_over_baseline']:.2f}x"))
        lines.append(f"  pipeline with its network in place of ours: {b['e2e_ms_per_face_swapped']:.2f} "
                     f"ms/face vs {result['e2e_ms_per_face']:.2f} (its output decoding not timed)")
    return "\n".join(lines) + "\n"
