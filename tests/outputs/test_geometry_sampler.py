"""The shared geometry of the outputs: image camera, texel scaling, the image → UV sampler."""

from __future__ import annotations

import numpy as np
import pytest

from prnet.errors import PRNetError
from prnet.geometry.pose import image_camera
from prnet.geometry.uv import texture_pixels
from prnet.render.uv_texture import masked_texture, resize_texel_mask, sample_uv


def test_image_camera_projects_like_pose(prn, sample_image_path):
    face = prn.reconstruct(sample_image_path)[0]
    p = face.pose
    pts = face.layout.canonical_kpt
    cam = p.image_camera_matrix
    np.testing.assert_array_equal(cam, image_camera(p.camera_matrix))
    np.testing.assert_allclose(pts @ cam[:, :3].T + cam[:, 3], p.project(pts), atol=1e-9)


def test_texture_pixels_maps_texel_centres():
    uv = np.array([[0, 0], [255, 255], [127.5, 3]])
    np.testing.assert_allclose(texture_pixels(uv, 256), uv)
    np.testing.assert_allclose(texture_pixels(uv, 512), [[0.5, 0.5], [510.5, 510.5], [255.5, 6.5]])
    assert texture_pixels(uv, 128, dtype=np.float32).dtype == np.float32
    # texel edges stay edges: -0.5 and 255.5 map to -0.5 and size - 0.5
    np.testing.assert_allclose(texture_pixels([[-0.5, 255.5]], 64), [[-0.5, 63.5]])


def test_sample_uv_and_mask():
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    xy = np.stack(np.meshgrid(np.arange(5.0), np.arange(4.0)), -1)[:4, :4]
    np.testing.assert_array_equal(sample_uv(img, xy), img[:4, :4])
    outside = np.full((2, 2, 2), -10.0)
    assert not sample_uv(img, outside).any()
    assert (sample_uv(img, outside, border="reflect") > 0).any()
    assert sample_uv(img, xy, size=8).shape == (8, 8, 3)
    with pytest.raises(PRNetError, match="border"):
        sample_uv(img, xy, border="wrap")
    keep = np.eye(4, dtype=bool)
    np.testing.assert_array_equal(resize_texel_mask(keep, 4), keep)
    tex = masked_texture(img, xy, keep, 4)
    np.testing.assert_array_equal(tex, img[:4, :4] * keep[..., None])
