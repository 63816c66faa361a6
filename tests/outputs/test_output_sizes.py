"""The bytes ``--all`` writes for an image are bounded per face, by bounds derived from the file
formats (vertex and triangle counts, decimals, the face's region, the texture size) -- not by
the frame: a bigger photo with the same faces may not write more per face."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from prnet.io import read_image
from prnet.outputs import ExportOptions, export_image
from prnet.outputs.arrays import face_arrays
from prnet.outputs.encode import (
    OBJ_COLOR_DECIMALS,
    OBJ_FRONTAL_DECIMALS,
    OBJ_PIXEL_DECIMALS,
    OBJ_UV_DECIMALS,
)

TEXTURE = 256
HEADER = 400  #: comment, mtllib, usemtl, PLY header, JSON chunk lines of a mesh file


def digits(x: float) -> int:
    return len(str(int(x)))


def number(int_width: int, decimals: int) -> int:
    """Characters of a ``%.Nf`` number and its separator (sign included in ``int_width``)."""
    return int_width + 1 + decimals + 1


def png_bound(height: int, width: int, channels: int, sample_bytes: int = 1) -> int:
    """A PNG never exceeds its filtered raw rows by more than deflate's stored-block overhead
    (5 bytes per 16 KiB at worst) plus the chunk headers."""
    raw = height * (width * channels * sample_bytes + 1)
    return raw + 5 * (raw // 16384 + 1) + 1000


def face_bounds(face, region: list[int]) -> dict[str, int]:
    """The largest size of each file of one face with every output (suffix → bytes)."""
    n, m = len(face.vertices), len(face.triangles)
    h = face.image_shape[0]
    ip = 1 + digits(np.abs(face.vertices).max() + h)  # sign + digits (y' = h - 1 - y)
    fp = 1 + digits(np.abs(face.frontal_vertices).max())
    idx = digits(n)  # written 1-based
    colour = 3 * number(1, OBJ_COLOR_DECIMALS)
    vt = 3 + 2 * number(1, OBJ_UV_DECIMALS)
    f_plain, f_uv = 2 + 3 * (idx + 1), 2 + 3 * (2 * idx + 2)
    v_px, v_front = 2 + 3 * number(ip, OBJ_PIXEL_DECIMALS), 2 + 3 * number(fp, OBJ_FRONTAL_DECIMALS)
    texture_png = png_bound(TEXTURE, TEXTURE, 3)
    raw_arrays = sum(a.nbytes + 300 for a in face_arrays(face).values())  # headers per array
    _, _, rw, rh = region
    return {
        ".obj": HEADER + n * (v_px + colour) + m * f_plain,
        "_tex.obj": HEADER + n * (v_px + vt) + m * f_uv,
        "_frontal.obj": HEADER + n * (v_front + colour) + m * f_plain,
        "_frontal_tex.obj": HEADER + n * (v_front + vt) + m * f_uv,
        "_tex.mtl": HEADER, "_frontal_tex.mtl": HEADER,
        "_tex_texture.png": texture_png, "_frontal_tex_texture.png": texture_png,
        ".ply": HEADER + 15 * n + 13 * m, "_frontal.ply": HEADER + 15 * n + 13 * m,
        ".glb": 2000 + 20 * n + 4 * math.ceil(6 * m / 4) + texture_png,  # uint16 indices
        ".npz": raw_arrays, ".mat": raw_arrays,
        "_depth.npy": 128 + 4 * rw * rh, "_depth.png": png_bound(rh, rw, 1, 2),
        **{f"_viz_{k}.png": png_bound(rh, rw, 3)
           for k in ("landmarks", "dense", "pose", "depth", "mesh")},
        "_kpt.txt": 5000, "_kpt.json": 20000, "_pose.txt": 1000, "_pose.json": 2000,
    }


@pytest.fixture(scope="module")
def two_faces(prn, sample_image_path):
    image = read_image(sample_image_path)
    faces = prn.reconstruct(np.hstack([image, image]))
    assert len(faces) == 2
    return faces


@pytest.fixture(scope="module")
def written(two_faces, tmp_path_factory):
    out = tmp_path_factory.mktemp("sizes")
    export_image(two_faces, out, "img", ExportOptions.every(texture_size=TEXTURE))
    return out


def test_every_file_of_a_face_is_within_its_format_bound(two_faces, written):
    rec = json.loads((written / "img.json").read_text())
    for i, face in enumerate(two_faces):
        bounds = face_bounds(face, rec["faces"][i]["region"])
        files = sorted(p for p in written.iterdir() if p.name.startswith(f"img_{i}"))
        assert sorted(p.name for p in files) == sorted(f"img_{i}{s}" for s in bounds)
        sizes = {p.name[len(f"img_{i}"):]: p.stat().st_size for p in files}
        over = {s: (sizes[s], b) for s, b in bounds.items() if sizes[s] > b}
        assert not over, f"face {i}: files over their bound (size, bound): {over}"
        assert sum(sizes.values()) <= sum(bounds.values())


def test_obj_bound_is_tight_enough_to_catch_six_decimals(two_faces, written, tmp_path):
    """The bound is not vacuous: the OBJ written with six decimals (as before) exceeds it."""
    from prnet.io import write_obj

    face = two_faces[0]
    rec = json.loads((written / "img.json").read_text())
    bound = face_bounds(face, rec["faces"][0]["region"])[".obj"]
    old = write_obj(tmp_path / "six.obj", face.vertices, face.triangles,
                    colors=face.colors, image_height=face.image_shape[0])
    assert (written / "img_0.obj").stat().st_size <= bound < old.stat().st_size
