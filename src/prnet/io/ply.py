"""Stanford PLY export (binary little-endian or ASCII) and a minimal reader."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prnet.errors import PRNetError
from prnet.io._atomic import atomic_open
from prnet.io._mesh import check_mesh, colors_unit, format_rows, to_viewer

__all__ = ["PlyMesh", "read_ply", "write_ply"]

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


def write_ply(
    path: str | os.PathLike,
    vertices: np.ndarray,
    triangles: np.ndarray,
    colors: np.ndarray | None = None,
    binary: bool = True,
    flip_y: bool = True,
    image_height: int | None = None,
) -> Path:
    """Write a triangle mesh as PLY (atomically), in viewer orientation.

    Vertices are stored as float32 ``x y z`` (+ ``uchar red green blue`` with colours),
    faces as ``list uchar int vertex_indices``. The y flip and winding follow
    :func:`prnet.io.obj.write_obj` (y up, normals towards +z).

    Args:
        path: destination ``.ply``.
        vertices: (N, 3) float, image pixels.
        triangles: (M, 3) integer indices.
        colors: optional (N, 3) RGB, float in [0, 1] or uint8 (stored as uchar 0..255).
        binary: binary little-endian (default) or ASCII.
        flip_y: flip y to point up (``image_height - 1 - y`` or ``-y``).
        image_height: height of the image the vertices live in (for the flip).

    Returns:
        The path written.

    Raises:
        InputShapeError: on malformed arrays.
    """
    out = Path(path)
    v, tri = check_mesh(vertices, triangles)
    col = colors_unit(colors, v.shape[0])
    v, tri = to_viewer(v, tri, flip_y=flip_y, image_height=image_height)
    col8 = None if col is None else np.rint(col * 255.0).astype(np.uint8)
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment written by prnet",
        f"element vertex {v.shape[0]}",
        "property float x",
        "property float y",
        "property float z",
    ]
    if col8 is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [
        f"element face {tri.shape[0]}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    head = ("\n".join(header) + "\n").encode("ascii")
    if binary:
        fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
        if col8 is not None:
            fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        vrec = np.empty(v.shape[0], dtype=fields)
        vrec["x"], vrec["y"], vrec["z"] = v[:, 0], v[:, 1], v[:, 2]
        if col8 is not None:
            vrec["red"], vrec["green"], vrec["blue"] = col8[:, 0], col8[:, 1], col8[:, 2]
        frec = np.empty(tri.shape[0], dtype=[("n", "u1"), ("i", "<i4", (3,))])
        frec["n"] = 3
        frec["i"] = tri
        body = [memoryview(vrec).cast("B"), memoryview(frec).cast("B")]  # written, not copied
    else:
        v32 = v.astype(np.float32).astype(np.float64)
        if col8 is not None:
            vtxt = format_rows("%.7g %.7g %.7g %d %d %d\n", np.hstack([v32, col8]))
        else:
            vtxt = format_rows("%.7g %.7g %.7g\n", v32)
        body = [(vtxt + format_rows("3 %d %d %d\n", tri)).encode("ascii")]
    with atomic_open(out, "wb") as f:
        f.write(head)
        for part in body:
            f.write(part)
    return out


@dataclass(frozen=True)
class PlyMesh:
    """What :func:`read_ply` returns."""

    vertices: np.ndarray  #: (N, 3) float64
    triangles: np.ndarray  #: (M, 3) int64
    colors: np.ndarray | None  #: (N, 3) uint8 if the file has red/green/blue


def read_ply(path: str | os.PathLike) -> PlyMesh:
    """Minimal PLY reader: a ``vertex`` element of scalar properties followed by a ``face``
    element with one list property of triangles (ASCII or binary, either byte order).

    Raises:
        PRNetError: if the file cannot be read or has an unsupported layout.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise PRNetError(f"cannot read PLY {p}: {e.strerror or e}") from None
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise PRNetError(f"cannot read PLY {p}: not a PLY file")
    body_start = data.index(b"\n", end) + 1
    header = data[:end].decode("ascii", errors="replace").splitlines()
    fmt = next((h.split()[1] for h in header if h.startswith("format")), "")
    elements: list[dict] = []
    for line in header:
        t = line.split()
        if t and t[0] == "element":
            elements.append({"name": t[1], "count": int(t[2]), "props": []})
        elif t and t[0] == "property" and elements:
            elements[-1]["props"].append(t[1:])
    names = [e["name"] for e in elements]
    if names[:2] != ["vertex", "face"]:
        raise PRNetError(f"cannot read PLY {p}: expected 'vertex' then 'face' elements")
    vel, fel = elements[0], elements[1]
    if any(pr[0] == "list" for pr in vel["props"]) or len(fel["props"]) != 1:
        raise PRNetError(f"cannot read PLY {p}: unsupported property layout")
    fprop = fel["props"][0]
    if fprop[0] != "list":
        raise PRNetError(f"cannot read PLY {p}: face property must be a list")
    try:
        vtypes = [(pr[1], _PLY_TYPES[pr[0]]) for pr in vel["props"]]
        ctype, itype = _PLY_TYPES[fprop[1]], _PLY_TYPES[fprop[2]]
    except KeyError as e:
        raise PRNetError(f"cannot read PLY {p}: unknown property type {e}") from None
    nv, nf = vel["count"], fel["count"]
    if fmt == "ascii":
        lines = data[body_start:].decode("ascii", errors="replace").split("\n")
        vtok = np.array(" ".join(lines[:nv]).split(), dtype=np.float64)
        ftok = np.array(" ".join(lines[nv : nv + nf]).split(), dtype=np.float64)
        if vtok.size != nv * len(vtypes) or ftok.size != 4 * nf:
            raise PRNetError(f"cannot read PLY {p}: body does not match the header (triangles?)")
        vt = vtok.reshape(nv, len(vtypes))
        cols = {name: vt[:, k] for k, (name, _) in enumerate(vtypes)}
        fa = ftok.reshape(nf, 4)
        counts, tri = fa[:, 0], fa[:, 1:].astype(np.int64)
    elif fmt in ("binary_little_endian", "binary_big_endian"):
        order = "<" if fmt == "binary_little_endian" else ">"
        vdt = np.dtype([(name, order + t) for name, t in vtypes])
        fdt = np.dtype([("n", order + ctype), ("i", order + itype, (3,))])
        need = nv * vdt.itemsize + nf * fdt.itemsize
        if len(data) - body_start < need:
            raise PRNetError(f"cannot read PLY {p}: truncated body")
        vrec = np.frombuffer(data, vdt, count=nv, offset=body_start)
        frec = np.frombuffer(data, fdt, count=nf, offset=body_start + nv * vdt.itemsize)
        cols = {name: vrec[name] for name, _ in vtypes}
        counts, tri = frec["n"], frec["i"].astype(np.int64)
    else:
        raise PRNetError(f"cannot read PLY {p}: unknown format {fmt!r}")
    if nf and not np.all(counts == 3):
        raise PRNetError(f"cannot read PLY {p}: only triangular faces are supported")
    if not {"x", "y", "z"} <= cols.keys():
        raise PRNetError(f"cannot read PLY {p}: vertex has no x, y, z")
    if tri.size and (tri.min() < 0 or tri.max() >= nv):
        raise PRNetError(f"cannot read PLY {p}: face index out of range")
    vertices = np.stack([cols["x"], cols["y"], cols["z"]], 1).astype(np.float64)
    colors = None
    if {"red", "green", "blue"} <= cols.keys():
        colors = np.stack([cols["red"], cols["green"], cols["blue"]], 1).astype(np.uint8)
    return PlyMesh(vertices=vertices, triangles=tri.reshape(-1, 3), colors=colors)
