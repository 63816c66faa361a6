"""The PRN facade on the bundled sample image (public-domain NASA photo), plus a golden
regression of its 68 landmarks.

Golden file: ``tests/data/astronaut_golden.json`` (landmarks rounded to 0.01 px, pose to 0.01°,
made with the bundled model and the default detector on CPU). The test allows 0.2 px: the
measured run-to-run / machine drift is about 0.05 px, while a real pipeline change is larger
(feeding the network BGR instead of RGB moves the landmarks by 0.44 px). When the model is retrained
(new bundled weights), check the new landmarks visually (``prnet demo``) and regenerate it:

    python tests/test_pipeline.py --update-golden

(which calls :func:`write_golden`). The same applies when ``prnet.pipeline.DETECTOR_CROP``
(the detector box → crop calibration) changes: the test names the cause.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from prnet.geometry.crop import (
    CROP,
    crop_matrix,
    crop_points,
    square_from_box,
    uncrop_points,
    warp_crop,
)
from prnet.pipeline import DETECTOR_CROP

GOLDEN = Path(__file__).resolve().parent / "data" / "astronaut_golden.json"
REGENERATE = "python tests/test_pipeline.py --update-golden"
#: Largest landmark difference (px, any coordinate) from the golden file: run-to-run drift is
#: ~0.05 px; swapping the network input to BGR moves them 0.44 px.
GOLDEN_TOL_PX = 0.2
#: Largest yaw / pitch / roll difference (degrees) from the golden file.
GOLDEN_TOL_DEG = 0.2


@pytest.fixture(scope="module")
def faces(prn, sample_image_path):
    return prn.reconstruct(sample_image_path)


@pytest.fixture(scope="module")
def face(faces):
    assert len(faces) == 1
    return faces[0]


def test_one_face_found(faces):
    assert len(faces) == 1
    f = faces[0]
    assert f.index == 0
    assert 0.5 < f.score <= 1.0
    assert f.image_shape == (512, 512)
    assert f.posmap.shape == (256, 256, 3) and f.posmap.dtype == np.float32


def test_landmarks_inside_box_and_plausible_layout(face):
    k = face.landmarks
    assert k.shape == (68, 3) and np.isfinite(k).all()
    x0, y0, x1, y1 = face.box
    m = 0.1 * max(x1 - x0, y1 - y0)  # the jaw line may graze the detector box
    assert (k[:, 0] > x0 - m).all() and (k[:, 0] < x1 + m).all()
    assert (k[:, 1] > y0 - m).all() and (k[:, 1] < y1 + m).all()
    eye_r, eye_l, mouth = k[36:42, :2].mean(0), k[42:48, :2].mean(0), k[48:68, :2].mean(0)
    assert eye_r[0] < eye_l[0]  # subject's right eye is on the image left
    assert max(eye_r[1], eye_l[1]) < k[30, 1] < mouth[1]  # eyes above nose tip above mouth
    assert int(np.argmax(k[:, 1])) in (7, 8, 9)  # the chin is the lowest point
    assert k[:17, 0].min() < eye_r[0] and k[:17, 0].max() > eye_l[0]  # jaw spans the eyes
    assert 60 < np.ptp(k[:, 0]) < 140  # face about 95 px wide in this photo


def test_pose_near_frontal(face):
    p = face.pose
    assert abs(p.yaw) < 15 and abs(p.pitch) < 20 and abs(p.roll) < 10
    assert p.camera_matrix.shape == (3, 4)
    # the camera maps the canonical face onto the observed one (y-up image frame)
    proj = p.project(face.layout.canonical)
    err = np.linalg.norm(proj[:, :2] - face.vertices[:, :2], axis=1)
    assert np.median(err) < 3.0


def test_vertices_triangles_uv(face):
    n = face.layout.n_vertices
    assert face.vertices.shape == (n, 3) and face.uv.shape == (n, 2)
    assert face.triangles.shape[1] == 3
    assert face.triangles.min() == 0 and face.triangles.max() == n - 1
    assert (face.uv >= 0).all() and (face.uv <= 255).all()
    # dense vertices lie around the landmarks
    lo, hi = face.landmarks[:, :2].min(0), face.landmarks[:, :2].max(0)
    inside = ((face.vertices[:, :2] > lo - 20) & (face.vertices[:, :2] < hi + 20)).all(1)
    assert inside.mean() > 0.95


def test_visibility_plausible(face):
    vis = face.visibility
    assert vis.shape == (face.layout.n_vertices,) and vis.dtype == bool
    assert 0.75 < vis.mean() <= 1.0  # near-frontal face: most of it is seen
    lv = face.landmark_visibility
    assert lv.shape == (68,) and lv.dtype == bool
    assert lv[27:68].all()  # nose, eyes and mouth face the camera
    assert lv.mean() > 0.75


def test_colors_in_unit_range(face):
    c = face.colors
    assert c.shape == (face.layout.n_vertices, 3) and c.dtype == np.float32
    assert c.min() >= 0.0 and c.max() <= 1.0
    assert 0.2 < c.mean() < 0.9  # skin, not black or white


def test_uv_texture(face):
    tex = face.uv_texture()
    assert tex.shape == (256, 256, 3) and tex.dtype == np.uint8
    small = face.uv_texture(128)
    assert small.shape == (128, 128, 3)
    masked = face.uv_texture(mask_invisible=True)
    assert (masked > 0).any(axis=2).sum() < (tex > 0).any(axis=2).sum()
    face_texels = np.zeros((256, 256), bool)
    face_texels.ravel()[face.layout.face_index] = True
    assert not tex[~face_texels].any()  # outside the face: black


def test_depth(face):
    d = face.depth()
    raw = face.depth(normalize=False)
    assert d.shape == raw.shape == face.image_shape
    assert 0.0 <= d.min() and d.max() <= 1.0
    cover = raw != 0
    assert cover.sum() > 0.5 * np.ptp(face.landmarks[:, 0]) ** 2
    x, y = np.rint(face.landmarks[30, :2]).astype(int)
    assert cover[y, x]  # the nose tip is covered


def test_frontal_vertices(face):
    fv = face.frontal_vertices
    assert fv.shape == face.vertices.shape
    # pose removed: close to the canonical face (same frame and size)
    err = np.linalg.norm(fv - face.layout.canonical, axis=1)
    assert np.median(err) < 0.1 * np.ptp(face.layout.canonical[:, 0])


def test_crop_uncrop_round_trip(face):
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 500, (100, 3)).astype(np.float32)
    m = crop_matrix(*square_from_box(face.box))
    np.testing.assert_allclose(crop_points(uncrop_points(pts, m), m), pts, atol=1e-3)
    np.testing.assert_allclose(uncrop_points(crop_points(pts, m), m), pts, atol=1e-3)
    # the face's own crop: its position map back in crop space lies inside the 256² crop
    crop_pm = crop_points(face.vertices, face.crop_matrix)
    assert np.median(crop_pm[:, :2]) > 0.2 * CROP and np.median(crop_pm[:, :2]) < 0.8 * CROP
    # a pixel of the crop is the image pixel the inverse matrix points at
    crop = warp_crop(face.image, face.crop_matrix)
    assert crop.shape == (CROP, CROP, 3)
    src = uncrop_points(np.array([[128.0, 128.0, 0.0]]), face.crop_matrix)[0]
    x, y = np.rint(src[:2]).astype(int)
    assert np.abs(crop[128, 128].astype(int) - face.image[y, x].astype(int)).max() < 40


def test_reconstruct_with_boxes(prn, face):
    out = prn.reconstruct(face.image, boxes=[face.box.tolist()])
    assert len(out) == 1 and out[0].score == 1.0
    # the same box gives the same crop, hence the same landmarks
    np.testing.assert_allclose(out[0].landmarks, face.landmarks, atol=1e-3)
    assert prn.reconstruct(face.image, boxes=[]) == []


def test_reconstruct_with_landmarks(prn, face):
    out = prn.reconstruct(face.image, landmarks=[face.landmarks[:, :2]])
    assert len(out) == 1
    d = np.linalg.norm(out[0].landmarks[:, :2] - face.landmarks[:, :2], axis=1)
    assert d.mean() < 3.0  # another crop of the same face: nearly the same answer


def test_refine_pass(prn, face):
    prn.refine = True
    try:
        out = prn.reconstruct(face.image)
    finally:
        prn.refine = False
    assert len(out) == 1
    d = np.linalg.norm(out[0].landmarks[:, :2] - face.landmarks[:, :2], axis=1)
    assert d.mean() < 3.0


def test_blank_image_gives_empty_list(prn):
    assert prn.reconstruct(np.full((240, 320, 3), 127, np.uint8)) == []


def test_to_dict_is_json_ready(face):
    d = json.loads(json.dumps(face.to_dict()))
    assert d["index"] == 0 and len(d["landmarks"]) == 68
    assert set(d["pose"]) >= {"yaw", "pitch", "roll", "camera_matrix"}
    assert all(len(repr(v)) < 12 for v in d["box"])  # rounded, no float32 noise


# --------------------------------------------------------------------------- golden


def golden_record(faces) -> dict:
    """What the golden file holds for ``faces`` (the sample image's reconstruction)."""
    from prnet import __version__
    from prnet.models.weights import BUNDLED, DEFAULT_MODEL

    f = faces[0]
    return {
        "image": "src/prnet/assets/astronaut.jpg",
        "model": DEFAULT_MODEL,
        "weights_sha256": BUNDLED[DEFAULT_MODEL].sha256,
        "detector": "blazeface",
        "detector_crop": dict(DETECTOR_CROP),
        "prnet_version": __version__,
        "regenerate": REGENERATE,
        "faces": len(faces),
        "box": np.round(np.asarray(f.box, np.float64), 1).tolist(),
        "pose_deg": {k: round(float(getattr(f.pose, k)), 2) for k in ("yaw", "pitch", "roll")},
        "landmarks": np.round(np.asarray(f.landmarks, np.float64), 2).tolist(),
    }


def write_golden(path: Path = GOLDEN) -> Path:
    """Recompute the golden file with the bundled model on CPU (see the module docstring)."""
    from prnet import PRN

    repo = Path(__file__).resolve().parents[1]
    faces = PRN(device="cpu", backend="torch").reconstruct(repo / "src" / "prnet" / "assets" / "astronaut.jpg")
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = golden_record(faces)
    pts = rec.pop("landmarks")
    head = json.dumps(rec, indent=1)[:-2]  # without the closing "\n}"
    rows = ",\n".join("  " + json.dumps(p) for p in pts)
    path.write_text(f'{head},\n "landmarks": [\n{rows}\n ]\n}}\n')
    return path


def test_golden_landmarks(faces):
    from prnet.models.weights import BUNDLED, DEFAULT_MODEL

    gold = json.loads(GOLDEN.read_text())
    if gold["weights_sha256"] != BUNDLED[DEFAULT_MODEL].sha256:
        pytest.fail(f"the bundled weights changed since {GOLDEN.name} was made; "
                    f"check the results and regenerate it: {REGENERATE}")
    if gold.get("detector_crop") != dict(DETECTOR_CROP):
        pytest.fail(f"pipeline.DETECTOR_CROP changed ({gold.get('detector_crop')} -> "
                    f"{DETECTOR_CROP}) since {GOLDEN.name} was made; check the results and "
                    f"regenerate it: {REGENERATE}")
    assert len(faces) == gold["faces"]
    k = faces[0].landmarks
    ref = np.array(gold["landmarks"])
    err = np.abs(k - ref)
    assert err.max() <= GOLDEN_TOL_PX, (
        f"landmarks moved by up to {err.max():.2f} px (mean {err.mean():.2f}) from {GOLDEN.name}; "
        f"if this is intended (new model), regenerate: {REGENERATE}")
    for name, v in gold["pose_deg"].items():
        assert abs(getattr(faces[0].pose, name) - v) < GOLDEN_TOL_DEG, name


if __name__ == "__main__":
    if "--update-golden" in sys.argv[1:]:
        print(f"wrote {write_golden()}")
    else:
        print(__doc__)
