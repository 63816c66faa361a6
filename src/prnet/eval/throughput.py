"""Throughput benchmark of the device path (``prnet bench --throughput``, implied by ``--device
cuda``); figures are printed and returned, never asserted.

* :func:`bench_network_modes` — network img/s over batch sizes in the pipeline's precisions
  (fp32, bf16/fp16 autocast, channels-last), eager, replayed CUDA graphs and ``torch.compile``.
* :func:`bench_device_post` — the torch post-network stages (:mod:`prnet.pipeline.device_post`)
  against the NumPy ones, ms per face in the same run.
* :func:`bench_end_to_end` — faces/s from JPEG files: N decode workers (decoding and detection
  in threads; or nvJPEG on the GPU) → pinned batches copied on a side stream while the previous
  batch computes → ``grid_sample`` crops → network → device post → one row per face.
* :func:`bench_throughput` — all of it plus the hardware, as one JSON-ready dict.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prnet.errors import PRNetError
from prnet.eval.bench import _default_image, _sync, _timing, capture_cuda_graph, hardware_info
from prnet.geometry.crop import CROP
from prnet.geometry.pose import estimate_pose
from prnet.models import create_model
from prnet.pipeline.device_input import (
    crop_faces_torch,
    decode_jpegs,
    image_batch,
    nvjpeg_problem,
    pad_images,
)
from prnet.pipeline.device_post import DevicePost
from prnet.pipeline.options import ModelOptions
from prnet.pipeline.posmaps import uncrop_maps

__all__ = [
    "CUDA_BATCHES",
    "bench_device_post",
    "bench_end_to_end",
    "bench_network_modes",
    "bench_throughput",
    "format_throughput",
    "make_jpeg_folder",
]

#: Network batch sizes of the CUDA table.
CUDA_BATCHES: tuple[int, ...] = (1, 8, 32, 128, 512)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _autocast(device: torch.device, dtype: str, cache: bool = True):
    """The pipeline's autocast for ``dtype`` (none for fp32); ``cache=False`` for graph capture."""
    if dtype == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[dtype], cache_enabled=cache)


def _graph_step(net: torch.nn.Module, x: torch.Tensor, dtype: str) -> Callable[[], None]:
    """A synchronised replay of ``net(x)`` under ``dtype``'s autocast, captured in a CUDA graph
    (:func:`~prnet.eval.bench.capture_cuda_graph`)."""
    graph = capture_cuda_graph(net, x, lambda: _autocast(x.device, dtype, cache=False))

    def step() -> None:
        graph.replay()
        torch.cuda.synchronize(x.device)

    return step


@torch.inference_mode()
def bench_network_modes(
    name: str = "mobilenet_unet", device: str = "cpu", dtypes: Sequence[str] = ("fp32",),
    batches: Sequence[int] = (1,), modes: Sequence[str] = ("eager",), seconds: float = 1.0,
    channels_last: Sequence[bool] = (True,), log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Network forward img/s for each (mode, dtype, layout, batch), as the pipeline runs it:
    fp32 weights, bf16/fp16 under autocast (the mean-face residual stays fp32).

    Modes: "eager"; "cuda_graph" (a captured graph replayed; CUDA only, channels-last only);
    "compile" (``torch.compile``, default mode, one compilation per batch size; channels-last
    only). A configuration that fails (out of memory, no compiler) gives a row with "error".

    Returns:
        One dict per configuration: model, device, mode, dtype, channels_last, batch,
        ms_per_batch, ms_per_batch_min, ms_per_image, img_per_s (or error).
    """
    dev = torch.device(device)
    say = log or (lambda _m: None)
    base = create_model(name).eval().to(dev)
    rows: list[dict] = []
    for mode in modes:
        if mode == "cuda_graph" and dev.type != "cuda":
            continue
        for cl in channels_last if mode == "eager" else (True,):
            net = base.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
            if mode == "compile":
                net = torch.compile(net, dynamic=False)
            for dt in dtypes:
                say(f"network {mode} {dt} channels_last={cl}: batches {tuple(batches)}")
                for b in batches:
                    row = {"model": name, "device": str(dev), "mode": mode, "dtype": dt,
                           "channels_last": cl, "batch": b}
                    try:
                        x = torch.rand(b, 3, CROP, CROP, device=dev)
                        if cl:
                            x = x.contiguous(memory_format=torch.channels_last)
                        if mode == "cuda_graph":
                            step = _graph_step(net, x, dt)
                        else:
                            def step(net=net, x=x, dt=dt) -> None:
                                with _autocast(dev, dt):
                                    net(x)
                                _sync(dev)
                        row.update(_timing(step, b, seconds, 3, 3 if dev.type == "cuda" else 1))
                    except Exception as exc:  # noqa: BLE001 - report the row, go on
                        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                    rows.append(row)
                    if dev.type == "cuda":
                        torch.cuda.empty_cache()
    return rows


def bench_device_post(prn: Any, faces: int = 16, repeats: int = 7,
                      image: str | Path | None = None) -> dict[str, Any]:
    """ms per face of the torch post-network stages (:class:`DevicePost`: uncrop, landmarks,
    pose, rows copied to the host) and of the NumPy ones (``uncrop_maps``, ``layout.landmarks``,
    ``estimate_pose`` of the dense vertices, as ``FaceResult.pose``), on ``faces`` copies of the
    bundled photo's network output (or ``image``'s first face), on ``prn``'s device.

    The two run alternately ``repeats`` times: ``torch_ms_per_face`` and ``numpy_ms_per_face``
    are the fastest passes, ``numpy_over_torch`` the median ratio of the pairs (robust to other
    load on a shared machine)."""
    from prnet.io import read_image

    img = read_image(image or _default_image())
    plans = prn.plan(prn.detect(img))
    if not plans:
        raise PRNetError("bench: no face found in the benchmark image")
    batch = prn.crop(img, plans[:1])
    maps = np.repeat(prn.predict_crops(batch.crops), faces, 0)
    mats = np.repeat(batch.matrices, faces, 0)
    post = DevicePost(prn.layout, prn.device)
    dev = torch.device(prn.device)
    maps_t, mats_t = torch.from_numpy(maps).to(dev), torch.from_numpy(mats).to(dev)

    def run_torch() -> None:
        post(maps_t, mats_t).rows()

    def run_numpy() -> None:
        pms = uncrop_maps(maps, mats)
        for pm in pms:
            prn.layout.landmarks(pm)
            estimate_pose(prn.layout.vertices(pm), prn.layout.canonical)

    def timed(fn: Callable[[], None]) -> float:
        _sync(dev)
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        return time.perf_counter() - t0

    run_torch(), run_numpy()
    pairs = [(timed(run_torch), timed(run_numpy)) for _ in range(repeats)]  # interleaved
    best_t, best_n = min(p[0] for p in pairs), min(p[1] for p in pairs)
    return {"faces": faces, "device": str(dev), "repeats": repeats,
            "torch_ms_per_face": round(best_t * 1e3 / faces, 4),
            "numpy_ms_per_face": round(best_n * 1e3 / faces, 4),
            "numpy_over_torch": round(float(np.median([n / t for t, n in pairs])), 2)}


def make_jpeg_folder(folder: str | Path, n: int, source: str | Path | None = None) -> list[Path]:
    """``n`` JPEG files (copies of ``source``, default the bundled photo) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    src = Path(source or _default_image())
    paths = [folder / f"img{i:05d}.jpg" for i in range(n)]
    for p in paths:
        shutil.copyfile(src, p)
    return paths


class _Loader:
    """Decode (or, for nvJPEG, read) and plan chunks of files in worker threads."""

    def __init__(self, prn: Any, decoder: str, boxes: dict[str, np.ndarray] | None) -> None:
        self.prn, self.decoder, self.boxes = prn, decoder, boxes

    def __call__(self, paths: Sequence[Path]) -> dict[str, Any]:
        from PIL import Image

        from prnet.io import read_image

        t0 = time.perf_counter()
        if self.decoder == "nvjpeg":
            images = [p.read_bytes() for p in paths]
            shapes = []
            for p in paths:
                with Image.open(p) as im:
                    shapes.append((im.height, im.width))
        else:
            images = [read_image(p) for p in paths]
            shapes = [im.shape[:2] for im in images]
        t1 = time.perf_counter()
        if self.boxes is None:
            dets = self.prn.detector.detect_batch(images, [str(p) for p in paths])
            plans = [self.prn.plan(d, image_shape=s) for d, s in zip(dets, shapes, strict=True)]
        else:
            plans = [self.prn.plan(boxes=self.boxes[p.name], image_shape=s)
                     for p, s in zip(paths, shapes, strict=True)]
        return {"paths": list(paths), "images": images, "plans": plans,
                "decode_s": t1 - t0, "detect_s": time.perf_counter() - t1}


def _bounded_map(pool: ThreadPoolExecutor, fn: Callable, items: Iterator, ahead: int) -> Iterator:
    """``pool.map(fn, items)`` in order, with at most ``ahead`` items submitted and not yet
    consumed (decoded images wait in memory only that far ahead)."""
    items = iter(items)
    futures = deque(pool.submit(fn, it) for it in islice(items, ahead))
    while futures:
        done = futures.popleft()
        for it in islice(items, 1):
            futures.append(pool.submit(fn, it))
        yield done.result()


def _chunks(paths: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for i in range(0, len(paths), size):
        yield paths[i : i + size]


@torch.inference_mode()
def bench_end_to_end(
    prn: Any, files: Sequence[str | Path], workers: int = 1, batch: int = 64,
    decoder: str = "cpu", boxes: dict[str, np.ndarray] | None = None, job: int = 8,
    warmup_batches: int = 1,
) -> dict[str, Any]:
    """Faces/s from encoded images to per-face rows (68 landmarks, pose), on ``prn``'s device.

    ``workers`` threads each decode ``job`` files at a time (``decoder="cpu"``:
    :func:`prnet.io.read_image`) and find their faces (``prn``'s detector, batched per job; or
    the given ``boxes``: file name → boxes). The main thread gathers ``batch`` images, copies
    them to the device (pinned memory, on a side stream, while the previous batch computes),
    crops every face by ``grid_sample``, runs the network (``prn.precision`` autocast,
    channels-last) and :class:`DevicePost`, and copies the rows back once per batch.
    ``decoder="nvjpeg"`` decodes on the GPU instead (the workers only read the files and their
    sizes; needs ``boxes``). The first ``warmup_batches`` batches are not timed.

    Returns:
        ``{"workers", "decoder", "detect", "batch", "images", "faces", "seconds",
        "faces_per_s", "images_per_s", "worker_decode_s", "worker_detect_s", "main_wait_s"
        (waiting for the workers: over half the time means decoding/detection limits the
        rate), "implausible" (faces the NumPy path would reject), "rows"}`` for the timed
        batches.

    Raises:
        PRNetError: a backend other than torch, ``tta="shift"``, nvJPEG without boxes or
            without a GPU decoder.
    """
    if prn.backend != "torch" or prn.tta != "off":
        raise PRNetError("the device path runs the torch backend without test-time augmentation"
                         f" (got backend {prn.backend}, tta {prn.tta})")
    if decoder == "nvjpeg":
        if boxes is None:
            raise PRNetError("decoder nvjpeg needs precomputed boxes (detection reads host images)")
        if (problem := nvjpeg_problem()) is not None:
            raise PRNetError(f"decoder nvjpeg unavailable: {problem}")
    if not files:
        raise PRNetError("bench: no image files to read")
    dev = torch.device(prn.device)
    post = DevicePost(prn.layout, dev)
    side = torch.cuda.Stream(dev) if dev.type == "cuda" else None
    paths = [Path(f) for f in files]
    per_batch = max(1, batch // job)
    loader = _Loader(prn, decoder, boxes)

    def upload(chunks: list[dict]) -> tuple[torch.Tensor, np.ndarray, np.ndarray, list]:
        images = [im for c in chunks for im in c["images"]]
        plans = [p for c in chunks for p in c["plans"]]
        names = [p.name for c in chunks for p in c["paths"]]
        mats = np.array([q.crop_matrix for ps in plans for q in ps], np.float64).reshape(-1, 2, 3)
        idx = np.repeat(np.arange(len(plans)), [len(ps) for ps in plans])
        meta = [(n, q) for n, ps in zip(names, plans, strict=True) for q in ps]
        with torch.cuda.stream(side) if side is not None else nullcontext():
            x = (pad_images(decode_jpegs(images, dev)) if decoder == "nvjpeg"
                 else image_batch(images, dev))
            ready = torch.cuda.Event() if side is not None else None
            if ready is not None:
                ready.record(side)
        if ready is not None:
            torch.cuda.current_stream(dev).wait_event(ready)
            x.record_stream(torch.cuda.current_stream(dev))
        return x, mats, idx, meta

    def compute(x: torch.Tensor, mats: np.ndarray, idx: np.ndarray, meta: list):
        if len(mats) == 0:
            return None
        m = torch.from_numpy(mats).to(dev, non_blocking=True)
        crops = crop_faces_torch(x, m, torch.from_numpy(idx).to(dev))
        net_in = crops.div_(255).contiguous(memory_format=torch.channels_last)
        return post(prn.network.forward_tensor(net_in), m), meta

    def collect(pending) -> list[dict]:
        if pending is None:
            return []
        res, meta = pending
        return [{"image": name, "box": np.round(plan.box.astype(np.float64), 2).tolist(),
                 "score": round(plan.score, 4), **row}
                for (name, plan), row in zip(meta, res.rows(), strict=True)]

    def run(paths: Sequence[Path]) -> tuple[list[dict], int, dict[str, float]]:
        stats = {"decode_s": 0.0, "detect_s": 0.0, "wait_s": 0.0}
        rows: list[dict] = []
        n_images, pending = 0, None
        with ThreadPoolExecutor(max(1, workers)) as pool:
            jobs = _bounded_map(pool, loader, _chunks(paths, job), max(2 * per_batch, 4 * workers))
            while True:
                t0 = time.perf_counter()
                got = [c for _, c in zip(range(per_batch), jobs, strict=False)]
                stats["wait_s"] += time.perf_counter() - t0
                staged = upload(got) if got else None  # copies while `pending` computes
                rows += collect(pending)
                if staged is None:
                    break
                for c in got:
                    stats["decode_s"] += c["decode_s"]
                    stats["detect_s"] += c["detect_s"]
                    n_images += len(c["paths"])
                pending = compute(*staged)
        return rows, n_images, stats

    if warmup_batches:
        run(paths[: warmup_batches * per_batch * job])
    _sync(dev)
    t_start = time.perf_counter()
    rows, n_images, stats = run(paths)
    n_faces = len(rows)
    wall = time.perf_counter() - t_start
    return {"workers": workers, "decoder": decoder,
            "detect": "boxes" if boxes is not None else prn.detector.name,
            "batch": per_batch * job, "images": n_images, "faces": n_faces,
            "seconds": round(wall, 3), "faces_per_s": round(n_faces / wall, 1),
            "images_per_s": round(n_images / wall, 1),
            "worker_decode_s": round(stats["decode_s"], 3),
            "worker_detect_s": round(stats["detect_s"], 3),
            "main_wait_s": round(stats["wait_s"], 3),
            "implausible": sum(not r["plausible"] for r in rows), "rows": rows}


def _check_against_numpy(prn: Any, path: Path, row: dict) -> dict[str, float]:
    """How far the device path's row for ``path``'s first face lies from the NumPy pipeline's
    (``prn.reconstruct``): max landmark difference (px) and max angle difference (degrees)."""
    faces = prn.reconstruct(path)
    if not faces:
        return {}
    face = min(faces, key=lambda f: np.abs(f.box - np.asarray(row["box"])).max())
    p = face.pose
    return {"landmarks_max_px": round(float(np.abs(np.asarray(row["landmarks"])
                                                   - face.landmarks).max()), 4),
            "angles_max_deg": round(max(abs(row["yaw"] - p.yaw), abs(row["pitch"] - p.pitch),
                                        abs(row["roll"] - p.roll)), 4)}


def bench_throughput(
    options: ModelOptions | str = "cpu", batches: Sequence[int] | None = None,
    dtypes: Sequence[str] | None = None, seconds: float = 1.0, cuda_graph: bool = True,
    compile_batches: Sequence[int] = (), folder: str | Path | None = None,
    n_images: int | None = None, workers: Sequence[int] | None = None, e2e_batch: int | None = None,
    decoders: Sequence[str] | None = None, log: Callable[[str], None] | None = None,
    image: str | Path | None = None, partial: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any]:
    """The device-path benchmark: network img/s over ``batches``, batch-1 latency, the torch
    post-stages against NumPy, and end-to-end faces/s from JPEG files for each decoder and
    number of ``workers``.

    Args:
        options: the timed :class:`prnet.PRN`'s options (or a device name); its ``precision``
            is the end-to-end run's autocast (``scripts/gpu_bench.sh`` runs bf16).
        batches: network batch sizes (default :data:`CUDA_BATCHES` on CUDA, (1, 8) on the CPU).
        dtypes: network precisions (default fp32, bf16, fp16 on CUDA; fp32 on the CPU).
        seconds: time per network configuration.
        cuda_graph: also time CUDA-graph replays (CUDA only).
        compile_batches: batch sizes to time under ``torch.compile`` (none by default: each
            takes a compilation).
        folder: JPEG files to read (default: ``n_images`` copies of ``image`` in a temporary
            folder, whose faces are also given as boxes for the nvJPEG runs).
        n_images: images per end-to-end run (default 2048 on CUDA, 16 on the CPU).
        workers: decode worker counts (default 4, 8, 16 capped by the CPU count, on CUDA; 1, 2
            on the CPU).
        e2e_batch: images per device batch end to end (default 256 on CUDA, 8 on the CPU).
        decoders: "cpu" and/or "nvjpeg" (default: both where nvJPEG is usable, else "cpu").
        image: a JPEG with a face (default: the bundled photo) for the post-stage timing and
            the generated folder.
        partial: called with the result so far after each part (e.g. to write it to a file,
            so that a run stopped by a time limit keeps what it measured).

    Returns:
        ``{"hardware", "precision", "network" (rows of :func:`bench_network_modes`),
        "network_best" (highest img/s row), "latency_b1" (lowest batch-1 row), "device_post"
        (:func:`bench_device_post`), "end_to_end" (:func:`bench_end_to_end` results without
        their rows, plus "check": the first row against the NumPy pipeline),
        "end_to_end_best", "nvjpeg" (null, or why it is not used), "seconds"}`` and, on CUDA,
        "gpu_peak_memory_gib".
    """
    from prnet import PRN
    from prnet.models.weights import DEFAULT_MODEL
    from prnet.pipeline.prn import resolve_device

    t0 = time.perf_counter()
    say = log or (lambda _m: None)
    opts = ModelOptions(device=options) if isinstance(options, str) else options
    if opts.backend == "auto" and opts.onnx is None:  # the device path is torch
        opts = opts.replace(backend="torch")
    if opts.tta != "off" or opts.backend == "onnxruntime" or opts.onnx is not None:
        raise PRNetError("the device path runs the torch backend without test-time augmentation"
                         f" (got backend {opts.backend}, tta {opts.tta})")
    device = resolve_device(opts.device)
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cudnn.benchmark = True
    opts = opts.replace(device=device)
    name = opts.model or DEFAULT_MODEL
    batches = tuple(batches or (CUDA_BATCHES if cuda else (1, 8)))
    dtypes = tuple(dtypes or (("fp32", "bf16", "fp16") if cuda else ("fp32",)))
    modes = ("eager", "cuda_graph") if cuda and cuda_graph else ("eager",)
    rows = bench_network_modes(name, device, dtypes, batches, modes, seconds,
                               channels_last=(True, False), log=say)
    if compile_batches:
        rows += bench_network_modes(name, device, dtypes[-1:] if cuda else ("fp32",),
                                    compile_batches, ("compile",), seconds, log=say)
    ok = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {"hardware": hardware_info(device), "model": name,
                           "precision": opts.precision, "network": rows,
                           "network_best": max(ok, key=lambda r: r["img_per_s"], default=None),
                           "latency_b1": min((r for r in ok if r["batch"] == 1),
                                             key=lambda r: r["ms_per_batch"], default=None)}
    keep = partial or (lambda _r: None)
    keep(out)
    prn = PRN(options=opts)
    say(f"device post: torch vs NumPy on {device}")
    out["device_post"] = bench_device_post(prn, image=image)
    out["end_to_end"] = runs = []
    keep(out)
    problem = nvjpeg_problem()
    out["nvjpeg"] = problem
    decoders = tuple(decoders or (("cpu", "nvjpeg") if problem is None else ("cpu",)))
    cpus = os.cpu_count() or 1
    workers = tuple(workers or (sorted({min(w, cpus) for w in (4, 8, 16)}) if cuda else (1, 2)))
    n_images = n_images or (2048 if cuda else 16)
    e2e_batch = e2e_batch or (256 if cuda else 8)
    job = max(1, min(16, e2e_batch // 4))
    with tempfile.TemporaryDirectory() as tmp:
        if folder is None:
            files = make_jpeg_folder(tmp, n_images, image)
            first = _read(files[0])
            src_faces = prn.plan(prn.detect(first), image_shape=first.shape[:2])
            boxes = {p.name: np.stack([f.box for f in src_faces]) if src_faces
                     else np.zeros((0, 4), np.float32) for p in files}
        else:
            from prnet.io import list_images

            files = [Path(p) for p in list_images([folder]).images][:n_images]
            if not files:
                raise PRNetError(f"no image found in {folder}")
            boxes = None
        for dec in decoders:
            for w in workers if dec == "cpu" else workers[:1]:
                for given in ((None, boxes) if dec == "cpu" and boxes is not None else
                              (boxes,) if dec == "nvjpeg" else (None,)):
                    if dec == "nvjpeg" and given is None:
                        continue
                    say(f"end to end: {len(files)} images, decoder {dec}, {w} workers, "
                        f"{'given boxes' if given is not None else 'detector'}")
                    try:
                        r = bench_end_to_end(prn, files, w, e2e_batch, dec, given, job)
                    except Exception as exc:
                        if dec == "cpu" and not runs:
                            raise  # the reference run: its failure is the benchmark's
                        runs.append({"workers": w, "decoder": dec, "error": f"{type(exc).__name__}:"
                                     f" {exc}".splitlines()[0][:300]})
                        continue
                    sample = r.pop("rows")
                    if sample and not any("check" in x for x in runs):
                        r["check"] = _check_against_numpy(prn, Path(files[0]), sample[0])
                    runs.append(r)
                    keep(out)
    out["end_to_end_best"] = max((r for r in runs if "error" not in r),
                                 key=lambda r: r["faces_per_s"], default=None)
    if cuda:
        out["gpu_peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _read(path: Path) -> np.ndarray:
    from prnet.io import read_image

    return read_image(path)


def format_throughput(result: dict[str, Any]) -> str:
    """A plain-text report of :func:`bench_throughput`'s result."""
    from prnet.eval.bench import report_head

    head = report_head("prnet bench --throughput", result)
    cols = (f"  {'mode':<11} {'dtype':<5} {'ch-last':<7} {'batch':>5} {'ms/batch':>9} "
            f"{'ms/img':>8} {'img/s':>9}")
    lines = [head, "", "Network (autocast as the pipeline runs it):", cols]
    for r in result["network"]:
        head = (f"  {r['mode']:<11} {r['dtype']:<5} {r['channels_last']!s:<7} {r['batch']:5d} ")
        lines.append(head + (f"error: {r['error']}" if "error" in r else
                             f"{r['ms_per_batch']:9.3f} {r['ms_per_image']:8.4f} "
                             f"{r['img_per_s']:9.1f}"))
    best, lat = result.get("network_best"), result.get("latency_b1")
    if best:
        lines.append(f"  best: {best['img_per_s']:.1f} img/s ({best['mode']}, {best['dtype']}, "
                     f"batch {best['batch']})")
    if lat:
        lines.append(f"  batch-1 latency: {lat['ms_per_batch']:.3f} ms ({lat['mode']}, "
                     f"{lat['dtype']})")
    dp = result["device_post"]
    post = (f"Post-network stages (uncrop, landmarks, pose), {dp['faces']} faces on "
            f"{dp['device']}: torch {dp['torch_ms_per_face']:.3f} ms/face, NumPy "
            f"{dp['numpy_ms_per_face']:.3f} ms/face (fastest of {dp['repeats']}; NumPy/torch "
            f"{dp['numpy_over_torch']:.2f}x, median of interleaved pairs)")
    e2e = (f"End to end from JPEG files (precision {result['precision']}; nvJPEG: "
           f"{result['nvjpeg'] or 'available'}):")
    cols = (f"  {'decoder':<7} {'workers':>7} {'detect':<10} {'batch':>5} {'images':>6} "
            f"{'faces/s':>9} {'wait s':>7} {'decode s':>8} {'detect s':>8}")
    lines += ["", post, "", e2e, cols]
    for r in result["end_to_end"]:
        if "error" in r:
            lines.append(f"  {r['decoder']:<7} {r['workers']:7d} error: {r['error']}")
            continue
        lines.append(f"  {r['decoder']:<7} {r['workers']:7d} {r['detect']:<10} {r['batch']:5d} "
                     f"{r['images']:6d} {r['faces_per_s']:9.1f} {r['main_wait_s']:7.2f} "
                     f"{r['worker_decode_s']:8.2f} {r['worker_detect_s']:8.2f}")
        if r.get("check"):
            lines.append(f"    first row vs the NumPy pipeline: landmarks "
                         f"{r['check']['landmarks_max_px']} px, angles "
                         f"{r['check']['angles_max_deg']} deg")
    return "\n".join(lines) + "\n"
