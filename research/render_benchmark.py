"""Timing of the rasteriser on a synthetic face-sized mesh.

Run ``python research/render_benchmark.py [--size 200] [--repeat 20]``.
The mesh is a regular grid (one vertex per pixel, two triangles per pixel square) lying on an
ellipsoid cap, i.e. about 40K vertices and 80K triangles covering ``size`` x ``size`` pixels,
which matches a PRNet face in its 256x256 crop.

Timings are wall-clock, single thread (numpy). The first calls of a fresh process are slower
than later ones: the C allocator first returns freed work buffers to the OS and must fault
fresh pages in again; once a process has freed large blocks (any larger render, or a network
forward pass) it keeps them and the steady-state figure applies.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from prnet.render.raster import rasterize
from prnet.render.synthetic import grid_mesh


def time_rasterize(
    vertices: np.ndarray, triangles: np.ndarray, h: int, w: int, repeat: int
) -> tuple[float, float, float]:
    """(first call, median, min) wall time in ms of :func:`rasterize`."""
    times = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        rasterize(vertices, triangles, h, w)
        times.append((time.perf_counter() - t0) * 1e3)
    return times[0], float(np.median(times[1:])), float(np.min(times[1:]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=200, help="grid side (vertices = size^2)")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    v, tri = grid_mesh(args.size)
    cases = [
        ("face crop 256x256", v, 256, 256),
        ("same mesh x4 in 1024x1024", np.c_[v[:, :2] * 4, v[:, 2:] * 4], 1024, 1024),
        ("same mesh x8 in 2000x2000", np.c_[v[:, :2] * 8, v[:, 2:] * 8], 2000, 2000),
        ("UV space 256x256 (z=0 plane)", np.c_[v[:, :2], np.zeros(len(v))], 256, 256),
    ]
    print(f"{len(v)} vertices, {len(tri)} triangles (numpy, single thread)")
    for name, verts, h, w in cases:
        first, med, best = time_rasterize(verts.astype(np.float32), tri, h, w, args.repeat)
        print(f"{name:30s} first {first:7.1f} ms  median {med:7.1f} ms  min {best:7.1f} ms")


if __name__ == "__main__":
    main()
