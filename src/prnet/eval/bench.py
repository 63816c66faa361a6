"""Speed benchmarks (figures are printed and returned, never asserted)."""

from __future__ import annotations

import time

import torch

from prnet.models import create_model


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.inference_mode()
def bench_network(
    name: str = "mobilenet_unet", device: str = "cpu", dtypes: tuple[str, ...] = ("fp32",),
    batches: tuple[int, ...] = (1,), channels_last: bool = False, seconds: float = 2.0,
    model: torch.nn.Module | None = None,
) -> list[dict]:
    """Network forward time per batch and throughput for each (dtype, batch size)."""
    model = (model or create_model(name)).eval().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    rows = []
    for dt in dtypes:
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dt]
        m = model.to(dtype) if dt != "fp32" else model.float()
        for b in batches:
            x = torch.rand(b, 3, 256, 256, device=device, dtype=dtype)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for _ in range(3):
                m(x)
            _sync(device)
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds or n < 3:
                m(x)
                n += 1
            _sync(device)
            dt_s = (time.perf_counter() - t0) / n
            rows.append({"model": name, "device": device, "dtype": dt, "batch": b,
                         "channels_last": channels_last, "ms_per_batch": round(dt_s * 1e3, 3),
                         "img_per_s": round(b / dt_s, 1)})
        model.float()
    return rows
