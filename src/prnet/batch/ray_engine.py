"""The Ray engine: the same stages as a Ray Data pipeline, on a local Ray or a cluster.

    paths ──map_batches (CPU tasks)──▶ decoded images ──map_batches (actor pool: one PRN per
    actor, 1 GPU each when the cluster has GPUs)──▶ rows ──▶ the driver's shard writer

Rows come from :func:`prnet.batch.process.image_rows`, as with the local engine. The driver
writes the shards (atomically, with the manifest), so a job resumes the same way; ``--outputs``
files are written by the actors, so OUT must then be on storage every node sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from prnet.batch._deps import require_pyarrow, require_ray
from prnet.batch.process import Decoded, RowSettings, decode, error_line, image_rows
from prnet.batch.rows import row_schema, rows_table
from prnet.errors import PRNetError

if TYPE_CHECKING:
    import pyarrow as pa

    from prnet.pipeline.options import ModelOptions

log = logging.getLogger(__name__)

__all__ = ["connect", "run_ray"]


def connect(address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to the Ray cluster at ``address`` ("auto", "ray://host:10001", "host:6379") or,
    with None, to the Ray already initialised in this process or a new local one. Returns
    whether this call started Ray (the caller then shuts it down).

    Raises:
        PRNetError: Ray Data not installed, or no cluster at ``address`` (one line).
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    if address and address != "auto":
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, logging_level=logging.WARNING, log_to_driver=False,
                     include_dashboard=False)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, ValueError, RuntimeError, ...
        where = f"at {address}" if address else "locally"
        raise PRNetError(f"cannot start or reach Ray {where}: {error_line(exc)}") from None
    return True


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail in seconds, not after Ray's minutes of retries, when nothing listens at
    ``address`` (``[ray://]host:port``)."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise PRNetError(f"--ray-address {address}: expected auto, ray://host:port or host:port")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise PRNetError(f"cannot reach Ray at {address}: {exc.strerror or exc}") from None


def _decode_batch(batch: pa.Table, max_pixels: int) -> pa.Table:
    """Ray task: paths → RGB pixels (bytes, height, width) or the reason they are unreadable."""
    pa = require_pyarrow()
    out: dict[str, list] = {"path": [], "shard": [], "pixels": [], "height": [], "width": [],
                            "error": []}
    for path, shard in zip(batch.column("path").to_pylist(), batch.column("shard").to_pylist(),
                           strict=True):
        d = decode(path, shard, max_pixels)
        out["path"].append(path)
        out["shard"].append(shard)
        out["pixels"].append(None if d.image is None else d.image.tobytes())
        out["height"].append(None if d.image is None else d.image.shape[0])
        out["width"].append(None if d.image is None else d.image.shape[1])
        out["error"].append(d.error)
    return pa.table({**out, "pixels": pa.array(out["pixels"], pa.binary())})


class _Reconstructor:
    """Ray actor: one PRN, decoded images → rows."""

    def __init__(self, options: ModelOptions, settings: RowSettings, threads: int) -> None:
        import torch

        from prnet import PRN

        torch.set_num_threads(max(1, threads))
        self.prn = PRN(options=options)
        self.settings = settings
        self.schema = row_schema(settings.dense, settings.outputs is not None)

    def __call__(self, batch: pa.Table) -> pa.Table:
        items = []
        for r in batch.to_pylist():
            img = (None if r["pixels"] is None else
                   np.frombuffer(r["pixels"], np.uint8).reshape(r["height"], r["width"], 3))
            items.append(Decoded(r["path"], r["shard"], img, r["error"]))
        return rows_table(image_rows(self.prn, items, self.settings), self.schema)


def run_ray(options: ModelOptions, shards: Mapping[int, Sequence[str]], settings: RowSettings,
            add: Callable[[pa.Table], None], *, workers: int = 1, chunk_size: int = 8,
            threads: int | None = None) -> dict[str, Any]:
    """Process every image of ``shards`` on the connected Ray (see :func:`connect`), handing
    rows to ``add`` as they arrive. Returns the resources used per actor.

    Raises:
        PRNetError: the pipeline failed (one line; the finished shards are kept).
    """
    ray = require_ray()
    gpus = float(ray.cluster_resources().get("GPU", 0))
    use_gpu = gpus >= 1 and not options.device.startswith("cpu")
    actor_options = options.replace(device="cuda" if use_gpu else "cpu")
    per_actor = {"num_gpus": 1 if use_gpu else 0, "num_cpus": max(1, threads or 1)}
    items = [{"path": p, "shard": k} for k, ps in shards.items() for p in ps]
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # prnet's own bar counts images
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    blocks = max(1, -(-len(items) // chunk_size))
    actors = min(max(1, workers), blocks)
    ds = ray.data.from_items(items, override_num_blocks=blocks)
    ds = ds.map_batches(_decode_batch, batch_size=chunk_size, batch_format="pyarrow",
                        fn_kwargs={"max_pixels": settings.max_pixels}, num_cpus=1)
    ds = ds.map_batches(_Reconstructor, batch_size=chunk_size, batch_format="pyarrow",
                        fn_constructor_kwargs={"options": actor_options, "settings": settings,
                                               "threads": per_actor["num_cpus"]},
                        compute=ray.data.ActorPoolStrategy(size=actors), **per_actor)
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            add(batch)
    except PRNetError:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps the workers' errors
        raise PRNetError(f"the Ray pipeline failed: {error_line(exc)}; rerun the same command "
                         "to resume") from None
    return {"actors": actors, **per_actor}
