"""Drawing helpers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from prnet.errors import InputShapeError
from prnet.io import depth_to_image, draw_dense, draw_landmarks, draw_mesh_overlay, draw_pose_box
from prnet.render import render_depth
from prnet.render.synthetic import grid_mesh


@pytest.fixture
def img():
    return np.full((120, 160, 3), 40, np.uint8)


def test_draw_landmarks_copy_and_colours(img):
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    kpts = np.stack([80 + 40 * np.cos(t), 60 + 40 * np.sin(t), np.zeros(68)], 1)
    vis = np.arange(68) % 2 == 0
    out = draw_landmarks(img, kpts, visible=vis, radius=2)
    assert out is not img and (img == 40).all()  # input untouched
    x, y = np.rint(kpts[0, :2]).astype(int)
    assert tuple(out[y, x]) == (0, 255, 0)
    x, y = np.rint(kpts[1, :2]).astype(int)
    assert tuple(out[y, x]) == (255, 0, 0)  # hidden
    # contours drawn between points (e.g. along the jaw between 0 and 1)
    assert (out != 40).any(axis=2).sum() > 68 * 13
    no_lines = draw_landmarks(img, kpts, contours=False, radius=0)
    assert (no_lines != 40).any(axis=2).sum() == 68
    with pytest.raises(InputShapeError, match="image must be RGB uint8"):
        draw_landmarks(img[..., 0], kpts)


def test_draw_dense(img):
    v = np.array([[10.2, 20.7, 0], [500, 5, 0], [np.nan, 1, 0], [30, 40, 0]])
    out = draw_dense(img, v, step=1, color=(1, 2, 3))
    assert tuple(out[21, 10]) == (1, 2, 3) and tuple(out[40, 30]) == (1, 2, 3)
    assert (out != 40).any(axis=2).sum() == 2
    assert (draw_dense(img, v, step=3) != 40).any(axis=2).sum() == 2  # rows 0 and 3


def test_draw_pose_box(img):
    cam = np.array([[0.3, 0, 0, 80], [0, 0.3, 0, 60], [0, 0, 0.3, 0]], np.float64)
    out = draw_pose_box(img, cam, thickness=1)
    changed = (out != 40).any(axis=2)
    assert changed.any()
    ys, xs = np.nonzero(changed)
    # rear square half-side 0.3 * 90 = 27 around (80, 60); front one 1.15 times bigger
    assert abs(xs.min() - (80 - 31)) <= 2 and abs(xs.max() - (80 + 31)) <= 2
    moved = draw_pose_box(img, cam, center=(40, 40), thickness=1)
    ys, xs = np.nonzero((moved != 40).any(axis=2))
    assert abs((xs.min() + xs.max()) / 2 - 40) <= 1.5
    assert abs((ys.min() + ys.max()) / 2 - 40) <= 1.5


def test_depth_to_image():
    v, tri = grid_mesh(30, offset=5)
    d = render_depth(v, tri, 40, 40)
    im = depth_to_image(d)
    assert im.shape == (40, 40, 3) and im.dtype == np.uint8
    assert (im[d == 0] == 0).all() and (im[d > 0] >= 1).all() and im.max() == 255
    peak = np.unravel_index(np.argmax(d), d.shape)
    assert im[peak][0] == 255  # nearest is brightest
    jet = depth_to_image(d, colormap=cv2.COLORMAP_JET)
    assert (jet[d == 0] == 0).all()


def test_draw_mesh_overlay(img):
    v, tri = grid_mesh(40, offset=20.0)
    out = draw_mesh_overlay(img, v, tri, alpha=0.5, color=(255, 255, 255))
    covered = (out != 40).any(axis=2)
    assert covered[25:55, 25:55].all() and not covered[:15].any()
    # centre of the cap faces the viewer: shade ~1 -> 0.5 * 40 + 0.5 * 255
    assert abs(int(out[39, 39, 0]) - 148) <= 2
    assert (draw_mesh_overlay(img, v, tri, alpha=0.0) == img).all()
    with pytest.raises(InputShapeError, match="alpha"):
        draw_mesh_overlay(img, v, tri, alpha=2)
