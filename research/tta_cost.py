"""Cost of flip TTA per face on the CPU: end to end (exports included) and landmarks + pose,
``tta="off"`` and ``"flip"`` timed in turns (7 rounds, order alternating) on the bundled photo,
1 thread, default backend.

Usage: ``PYTHONPATH=src python research/tta_cost.py``
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from prnet import PRN
from prnet.eval.bench import bench_pipeline
from prnet.eval.bench_backends import bench_landmarks_pose
from prnet.io import read_image


def main() -> None:
    torch.set_num_threads(1)
    data = Path(str(resources.files("prnet") / "assets" / "astronaut.jpg")).read_bytes()
    img = read_image(data)
    prns = {t: PRN(device="cpu", tta=t) for t in ("off", "flip")}
    e2e: dict[str, list[float]] = {t: [] for t in prns}
    lp: dict[str, list[float]] = {t: [] for t in prns}
    for r in range(7):
        for t, p in list(prns.items())[:: 1 if r % 2 == 0 else -1]:
            e2e[t].append(bench_pipeline(p, data, repeats=1)["e2e_ms_per_face"])
            lp[t].append(bench_landmarks_pose(p, img, 1)["landmarks_pose_ms_per_face"])
    for t, p in prns.items():
        print(f"tta {t:<4} ({p.backend}): end to end {np.median(e2e[t]):.1f} ms/face (fastest "
              f"{np.min(e2e[t]):.1f}), landmarks + pose {np.median(lp[t]):.1f} "
              f"(fastest {np.min(lp[t]):.1f})")


if __name__ == "__main__":
    main()
