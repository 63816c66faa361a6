"""Region outputs: the face-bounded z-buffer equals the full-frame one, and region files placed
back at their recorded offset land on the full-frame files."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from prnet.io import depth_to_image, read_image
from prnet.io.viz import _default_size
from prnet.outputs import ExportOptions, export_image
from prnet.outputs.regions import (
    MARGIN,
    REGION_DRAWINGS,
    decode_depth,
    draw_region,
    output_region,
)
from prnet.outputs.viz import DRAWINGS
from prnet.pipeline.result import FaceResult
from prnet.render import rasterize, render_depth, vertex_visibility
from prnet.render.region import Region, paste


@pytest.fixture(scope="module")
def face(prn, sample_image_path):
    return prn.reconstruct(sample_image_path)[0]


def _moved(face: FaceResult, shape: tuple[int, int], dx: float, dy: float) -> FaceResult:
    """The face's mesh moved by (dx, dy) on a synthetic (H, W) canvas (the photo pasted there)."""
    h, w = shape
    image = np.zeros((h, w, 3), np.uint8)
    ih, iw = face.image_shape
    x0, y0 = max(0, int(dx)), max(0, int(dy))
    src = face.image[: max(0, min(ih, h - y0)), : max(0, min(iw, w - x0))]
    image[y0:y0 + src.shape[0], x0:x0 + src.shape[1]] = src
    pos = face.posmap.copy()
    pos[..., 0] += np.float32(dx)
    pos[..., 1] += np.float32(dy)
    return FaceResult(0, face.box, face.score, face.crop_matrix, pos, image, face.layout)


def _full_frame_reference(f: FaceResult) -> dict[str, np.ndarray]:
    """What FaceResult computed before region rasterisation: everything over (H, W)."""
    h, w = f.image_shape
    r = rasterize(f.vertices, f.triangles, h, w)
    k = f.landmarks
    tol = max(1.0, 0.02 * float(np.ptp(k[:, 0])))
    lvis = vertex_visibility(np.concatenate([f.vertices, k]), f.triangles, h, w, tol, raster=r)[-68:]
    d = (f.layout.canonical_kpt[:17] - f.layout.head_centre) @ f.pose.rotation.T
    lvis[:17] = d[:, 2] > 0
    return {"raster": r, "visibility": vertex_visibility(f.vertices, f.triangles, h, w,
                                                         f._tolerance, raster=r),
            "landmark_visibility": lvis,
            "depth": render_depth(f.vertices, f.triangles, h, w, normalize=False),
            "depth_normalized": render_depth(f.vertices, f.triangles, h, w, normalize=True)}


def _check_equal_to_full_frame(f: FaceResult) -> None:
    ref = _full_frame_reference(f)
    for k in ("depth", "triangle", "bary"):
        np.testing.assert_array_equal(getattr(f.raster, k), getattr(ref["raster"], k), err_msg=k)
        np.testing.assert_array_equal(getattr(f.region_raster, k),
                                      f.raster_region.crop(getattr(ref["raster"], k)), err_msg=k)
    np.testing.assert_array_equal(f.visibility, ref["visibility"])
    np.testing.assert_array_equal(f.landmark_visibility, ref["landmark_visibility"])
    np.testing.assert_array_equal(f.depth(normalize=False), ref["depth"])
    np.testing.assert_array_equal(f.depth(normalize=True), ref["depth_normalized"])
    reg = output_region(f)
    np.testing.assert_array_equal(f.depth(normalize=False, region=reg), reg.crop(ref["depth"]))
    outside = np.ones(f.image_shape, bool)
    outside[f.raster_region.slices] = False
    assert not ref["depth"][outside].any() and not ref["raster"].mask[outside].any()


def test_region_raster_equals_full_frame_on_the_photo(face):
    assert face.region_raster.shape == face.raster_region.shape
    assert face.raster_region.width < face.image_shape[1] // 2
    _check_equal_to_full_frame(face)


@pytest.mark.parametrize(("dx", "dy"), [(2901.37, 1500.5), (-60.25, 2950.0)])
def test_region_raster_equals_full_frame_on_a_large_canvas(face, dx, dy):
    # the second placement puts the mesh partly outside the frame (left and bottom edges)
    big = _moved(face, (3200, 4100), dx, dy)
    assert big.raster_region.height * big.raster_region.width < 0.01 * 3200 * 4100
    _check_equal_to_full_frame(big)


def test_output_region_has_the_margin(face):
    box, reg = face.raster_region, output_region(face)
    assert reg.x0 == box.x0 - int(np.ceil(MARGIN * box.width))
    assert reg.y0 == box.y0 - int(np.ceil(MARGIN * box.height))
    assert output_region(face, ExportOptions(full_frame=True)) == Region.full(*face.image_shape)
    edge = Region(0, 5, 10, 10).expand(MARGIN, 12, 12)
    assert edge == Region(0, 2, 12, 10)


@pytest.mark.parametrize("name", list(REGION_DRAWINGS))
def test_region_drawing_is_the_crop_of_the_full_frame_drawing(face, name):
    reg = output_region(face)
    full = DRAWINGS[name](face)  # sizes scale with the image: draw the region the same way
    region = draw_region(face, name, reg, size=_default_size(face.image))
    np.testing.assert_array_equal(region, reg.crop(full))


@pytest.fixture(scope="module")
def written(face, tmp_path_factory):
    out = tmp_path_factory.mktemp("regions")
    opts = ExportOptions.from_names(["depth", "viz"])
    full = ExportOptions.from_names(["depth", "viz"], full_frame=True)
    export_image([face], out / "r", "img", opts)
    export_image([face], out / "f", "img", full)
    return out


def test_region_files_placed_back_land_on_the_full_frame_files(face, written):
    rec = json.loads((written / "r" / "img.json").read_text())
    x0, y0, w, h = rec["faces"][0]["region"]
    reg = Region(x0, y0, w, h)
    assert reg == output_region(face)
    full = Region.full(*face.image_shape)
    npy = np.load(written / "r" / "img_0_depth.npy")
    assert npy.shape == (h, w) and npy.dtype == np.float32
    ref = np.load(written / "f" / "img_0_depth.npy")
    np.testing.assert_array_equal(paste(npy, reg, full, 0), ref)  # pixel-exact
    enc = rec["faces"][0]["depth_encoding"]
    png = cv2.imread(str(written / "r" / "img_0_depth.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (h, w)
    np.testing.assert_array_equal(png > 0, npy != 0)
    np.testing.assert_allclose(decode_depth(png, enc), npy, atol=enc["scale"] / 2 + 1e-4)
    viz = read_image(written / "r" / "img_0_viz_depth.png")
    np.testing.assert_array_equal(paste(viz, reg, full, 0),
                                  read_image(written / "f" / "img_0_viz_depth.png"))


def test_combined_drawing_is_listed_once_per_image(face, written):
    rec = json.loads((written / "r" / "img.json").read_text())
    assert rec["image_files"] == ["img_viz.jpg"] and "img_viz.jpg" in rec["files"]
    combined = read_image(written / "r" / "img_viz.jpg")
    assert combined.shape == face.image.shape
    assert not (written / "f" / "img_viz.jpg").exists()
    full = json.loads((written / "f" / "img.json").read_text())
    assert full["image_files"] == [] and full["options"]["full_frame"] is True
    assert full["faces"][0]["region"] == [0, 0, face.image_shape[1], face.image_shape[0]]
    assert "depth_encoding" not in full["faces"][0]


def test_full_frame_files_are_the_old_drawings(face, written):
    h, w = face.image_shape
    ref = render_depth(face.vertices, face.triangles, h, w, normalize=False)
    np.testing.assert_array_equal(np.load(written / "f" / "img_0_depth.npy"), ref)
    np.testing.assert_array_equal(read_image(written / "f" / "img_0_depth.png"),
                                  depth_to_image(ref))
    np.testing.assert_array_equal(read_image(written / "f" / "img_0_viz_landmarks.png"),
                                  DRAWINGS["landmarks"](face))


def test_options_full_frame_round_trips():
    import pickle

    o = ExportOptions.all(full_frame=True)
    assert o.full_frame and o.to_json()["full_frame"] is True
    assert pickle.loads(pickle.dumps(o)) == o != ExportOptions.all()
