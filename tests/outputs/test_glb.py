"""--glb: binary glTF 2.0 of the face mesh with its embedded UV texture (PBR material)."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image

from prnet.io._mesh import to_viewer
from prnet.outputs import ExportOptions, export_face

SIZE = 128
COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
DTYPES = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}


@pytest.fixture(scope="module")
def face(prn, sample_image_path):
    return prn.reconstruct(sample_image_path)[0]


@pytest.fixture(scope="module")
def glb_path(face, tmp_path_factory):
    out = tmp_path_factory.mktemp("glb")
    paths = export_face(face, out, "img", ExportOptions.from_names(["glb"], texture_size=SIZE))
    assert [p.name for p in paths] == ["img_0.glb"]
    return paths[0]


def parse_glb(data: bytes) -> tuple[dict, bytes]:
    """(glTF JSON, BIN chunk) of a GLB file, checking the container."""
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    n_json, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON" and n_json % 4 == 0
    gltf = json.loads(data[20 : 20 + n_json])
    n_bin, kind = struct.unpack_from("<I4s", data, 20 + n_json)
    assert kind == b"BIN\x00" and 28 + n_json + n_bin == len(data)
    return gltf, data[28 + n_json :]


def accessor(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    a = gltf["accessors"][index]
    view = gltf["bufferViews"][a["bufferView"]]
    k = COMPONENTS[a["type"]]
    dtype = np.dtype(DTYPES[a["componentType"]])
    start = view.get("byteOffset", 0) + a.get("byteOffset", 0)
    arr = np.frombuffer(binary, dtype, a["count"] * k, start)
    return arr.reshape(a["count"], k) if k > 1 else arr


@pytest.fixture(scope="module")
def parsed(glb_path):
    return parse_glb(glb_path.read_bytes())


def test_structure_is_valid(parsed):
    gltf, binary = parsed
    assert gltf["asset"]["version"] == "2.0"
    assert len(gltf["buffers"]) == 1 and gltf["buffers"][0]["byteLength"] <= len(binary)
    for view in gltf["bufferViews"]:
        assert view["buffer"] == 0
        assert view.get("byteOffset", 0) + view["byteLength"] <= gltf["buffers"][0]["byteLength"]
    for a in gltf["accessors"]:
        view = gltf["bufferViews"][a["bufferView"]]
        size = a["count"] * COMPONENTS[a["type"]] * np.dtype(DTYPES[a["componentType"]]).itemsize
        assert a.get("byteOffset", 0) + size <= view["byteLength"]
    (mesh,) = gltf["meshes"]
    (prim,) = mesh["primitives"]
    assert prim.get("mode", 4) == 4  # triangles
    assert {"POSITION", "TEXCOORD_0"} <= set(prim["attributes"])
    pos = gltf["accessors"][prim["attributes"]["POSITION"]]
    assert "min" in pos and "max" in pos  # required by the spec for POSITION
    (image,) = gltf["images"]
    assert image["mimeType"] == "image/png" and image["bufferView"] < len(gltf["bufferViews"])
    assert gltf["textures"][0]["source"] == 0
    assert any(n.get("mesh") == 0 for n in gltf["nodes"])


def test_material_is_lit_pbr(parsed):
    gltf, _ = parsed
    (mat,) = gltf["materials"]
    pbr = mat["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0 and pbr["roughnessFactor"] == 1
    assert gltf["textures"][pbr["baseColorTexture"]["index"]]["source"] == 0
    assert pbr.get("baseColorFactor", [1, 1, 1, 1]) == [1, 1, 1, 1]


def test_geometry_uv_and_texture(face, parsed):
    gltf, binary = parsed
    prim = gltf["meshes"][0]["primitives"][0]
    v_ref, tri_ref = to_viewer(face.vertices, face.triangles, image_height=face.image_shape[0])
    pos = accessor(gltf, binary, prim["attributes"]["POSITION"])
    assert pos.shape == face.vertices.shape
    np.testing.assert_allclose(pos, v_ref, atol=1e-3)  # y up: H - 1 - y
    np.testing.assert_allclose(pos[:, 1], face.image_shape[0] - 1 - face.vertices[:, 1], atol=1e-3)
    tri = accessor(gltf, binary, prim["indices"]).reshape(-1, 3)
    assert gltf["accessors"][prim["indices"]]["componentType"] == 5123  # uint16: N < 65535
    np.testing.assert_array_equal(tri, tri_ref)
    # glTF texcoords: origin top-left, t down; the texel centre of each vertex
    st = accessor(gltf, binary, prim["attributes"]["TEXCOORD_0"])
    uv = (np.asarray(face.uv, np.float64) + 0.5) * (SIZE / 256) - 0.5
    np.testing.assert_allclose(st, (uv + 0.5) / SIZE, atol=1e-6)
    view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
    start = view.get("byteOffset", 0)
    png = Image.open(io.BytesIO(binary[start : start + view["byteLength"]]))
    tex = np.asarray(png.convert("RGB"))
    assert tex.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(tex, face.uv_texture(SIZE))


def test_front_faces_the_viewer(parsed):
    gltf, binary = parsed
    prim = gltf["meshes"][0]["primitives"][0]
    v = accessor(gltf, binary, prim["attributes"]["POSITION"]).astype(np.float64)
    t = accessor(gltf, binary, prim["indices"]).reshape(-1, 3)
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    assert n[:, 2].sum() > 0  # counter-clockwise front faces towards +z (the viewer)


def test_trimesh_round_trip(face, glb_path):
    trimesh = pytest.importorskip("trimesh")
    mesh = trimesh.load(glb_path, force="mesh", process=False)
    v_ref, tri_ref = to_viewer(face.vertices, face.triangles, image_height=face.image_shape[0])
    assert mesh.vertices.shape == face.vertices.shape
    np.testing.assert_allclose(mesh.vertices, v_ref, atol=1e-3)
    np.testing.assert_array_equal(mesh.faces, tri_ref)
    uv = (np.asarray(face.uv, np.float64) + 0.5) * (SIZE / 256) - 0.5
    np.testing.assert_allclose(mesh.visual.uv[:, 0], (uv[:, 0] + 0.5) / SIZE, atol=1e-6)
    np.testing.assert_allclose(mesh.visual.uv[:, 1], 1 - (uv[:, 1] + 0.5) / SIZE, atol=1e-6)
    mat = mesh.visual.material
    assert mat.baseColorTexture.size == (SIZE, SIZE)
    assert mat.metallicFactor == 0 and mat.roughnessFactor == 1


def test_all_includes_glb():
    assert "glb" in ExportOptions.all().names and "glb" not in ExportOptions().names
