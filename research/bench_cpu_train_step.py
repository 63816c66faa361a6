"""Seconds per training step (forward, backward, AdamW) of the bundled network on the CPU,
batch 16, 2 threads: bf16 autocast, fp32, then bf16 again (the first configuration also warms up).

    python research/bench_cpu_train_step.py
"""
import time

import torch

from prnet.models.weights import load_model

torch.set_num_threads(2)
m = load_model("mobilenet_unet").train().to(memory_format=torch.channels_last)
x = torch.rand(16, 3, 256, 256).contiguous(memory_format=torch.channels_last)
opt = torch.optim.AdamW(m.parameters(), lr=1e-6)
for name, ac in [("bf16", torch.autocast("cpu", dtype=torch.bfloat16)), ("fp32", torch.autocast("cpu", enabled=False)), ("bf16b", torch.autocast("cpu", dtype=torch.bfloat16))]:
    ts = []
    for i in range(6):
        t = time.time()
        with ac:
            y = m(x)
        loss = y.float().abs().mean(); opt.zero_grad(); loss.backward(); opt.step()
        ts.append(time.time() - t)
    print(name, [round(t, 2) for t in ts], flush=True)
