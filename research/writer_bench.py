"""Per-writer timing of the output registry on the bundled photo's face.

Run ``OMP_NUM_THREADS=1 python research/writer_bench.py [--repeat 15] [--outputs obj ply ...]``.

The face's lazy arrays (vertices, colours, landmarks, pose, visibility, UV texture) are computed
once before timing, so each figure is the writer itself (formatting + writing the files). The
``front`` writer is timed with ``obj`` and ``ply`` on (its frontal OBJ and PLY) and ``texture``
off; ``export`` is ``prnet.outputs.export_face`` with ``prnet bench``'s export set (obj, ply,
kpt, pose, and the per-image JSON). Prints the median and min wall ms and the median CPU ms
(process time: less disturbed by other load on a shared machine; it leaves out waiting for the
disk, e.g. fsync) per face of each writer; ``--json`` for a machine copy.

Before/after: run it alternately with ``PYTHONPATH`` pointing at the two source trees.

Result (h16-writers, 2 shared cores, OMP_NUM_THREADS=1, 3 alternating runs of ``--repeat 11``,
median of the runs' medians; CPU ms, then wall ms in brackets -- wall includes the fsync of
``atomic_open``, about 7 ms for the 6 MB OBJ, and the other jobs' load):

    writer   before CPU (wall)   after CPU (wall)
    obj        73.0 (134)          25.0 (56; min 22.7)
    ply         9.1 (20)            5.0 (6.4)
    texture    92.4 (168)          38.5 (43)
    front      79.5 (152)          29.2 (33)
    glb        41.6 (84)           30.6 (32)   (~20 ms of it: the texture's PNG encoding)
    export     98.5 (160)          30.1 (35)   (obj + ply + kpt + pose + JSON)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT = ("obj", "ply", "texture", "front", "glb", "kpt", "pose", "export")
BENCH_EXPORT = ("obj", "ply", "kpt", "pose")  #: the outputs of bench_pipeline's export stage


def load_face():
    """The first face of ``assets/astronaut.jpg`` with its lazy outputs computed."""
    import torch

    torch.set_num_threads(1)
    import prnet
    from prnet import PRN
    from prnet.outputs import ExportOptions
    from prnet.outputs.texture import texture_and_uv

    face = PRN().reconstruct(str(Path(prnet.__file__).parent / "assets/astronaut.jpg"))[0]
    _ = face.vertices, face.colors, face.landmarks, face.landmark_visibility, face.pose
    _ = face.frontal_vertices
    texture_and_uv(face, ExportOptions())  # warm the texture sampler's caches
    return face


def time_writer(face, name: str, folder: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU ms of ``repeat`` calls (after one warm-up) of the registry writer ``name``
    (``"export"``: ``export_face`` with :data:`BENCH_EXPORT`)."""
    from prnet.outputs import ExportOptions, export_face
    from prnet.outputs.registry import get_output

    if name == "export":
        options = ExportOptions.from_names(BENCH_EXPORT)

        def write(face, base, options):
            return export_face(face, base.parent, base.name, options)
    else:
        names = ["obj", "ply", "front"] if name == "front" else [name]
        options = ExportOptions.from_names(names)
        write = get_output(name).write
    try:  # encodings shared between the outputs of one face: not between timed calls
        from prnet.io._mesh import clear_caches
    except ImportError:  # the source tree before the fast writers
        def clear_caches() -> None:
            pass
    wall, cpu = [], []
    for i in range(repeat + 1):
        clear_caches()
        t0, c0 = time.perf_counter(), time.process_time()
        write(face, folder / f"face{i}", options)
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return wall[1:], cpu[1:]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--outputs", nargs="+", default=list(DEFAULT))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    face = load_face()
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.outputs:
            t, c = time_writer(face, name, Path(tmp), args.repeat)
            res[name] = {"median_ms": round(float(np.median(t)), 2),
                         "min_ms": round(float(np.min(t)), 2),
                         "cpu_median_ms": round(float(np.median(c)), 2)}
    if args.json:
        print(json.dumps(res))
    for name, r in res.items():
        print(f"{name:8s} wall median {r['median_ms']:8.2f} ms  min {r['min_ms']:8.2f} ms"
              f"  cpu median {r['cpu_median_ms']:8.2f} ms")


if __name__ == "__main__":
    main()
