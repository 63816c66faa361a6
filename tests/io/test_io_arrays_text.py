"""npz / mat / txt / json exports and atomic writing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from prnet.errors import InputShapeError
from prnet.io import (
    read_landmarks_json,
    read_landmarks_txt,
    read_npz,
    read_pose_json,
    read_pose_txt,
    write_json,
    write_landmarks_json,
    write_landmarks_txt,
    write_mat,
    write_npz,
    write_pose_json,
    write_pose_txt,
)
from prnet.io._atomic import atomic_open

RNG = np.random.default_rng(0)
KPTS = RNG.uniform(0, 256, (68, 3))
CAM = RNG.normal(size=(3, 4))
ANGLES = np.array([12.5, -3.25, 1.0])


def test_npz_round_trip(tmp_path):
    v = RNG.uniform(0, 1, (100, 3)).astype(np.float32)
    t = RNG.integers(0, 100, (50, 3)).astype(np.int32)
    p = write_npz(tmp_path / "face.npz", vertices=v, triangles=t, landmarks=KPTS)
    d = read_npz(p)
    assert set(d) == {"vertices", "triangles", "landmarks"}
    assert np.array_equal(d["vertices"], v) and d["vertices"].dtype == np.float32
    assert np.array_equal(d["triangles"], t)
    with pytest.raises(InputShapeError, match="needs at least one"):
        write_npz(tmp_path / "e.npz")
    with pytest.raises(InputShapeError, match="dtype object"):
        write_npz(tmp_path / "e.npz", x=np.array([None, 1], dtype=object))


def test_mat_round_trip(tmp_path):
    v = RNG.uniform(0, 1, (100, 3))
    p = write_mat(tmp_path / "face.mat", {"vertices": v, "pose": ANGLES, "name": "x"})
    d = scipy.io.loadmat(p)
    np.testing.assert_array_equal(d["vertices"], v)
    np.testing.assert_array_equal(d["pose"].ravel(), ANGLES)
    assert d["name"][0] == "x"
    with pytest.raises(InputShapeError, match="invalid MATLAB variable names"):
        write_mat(tmp_path / "b.mat", {"_bad": v})
    with pytest.raises(InputShapeError, match="are None"):
        write_mat(tmp_path / "b.mat", {"a": None})


def test_mat_at_zlib_default_level_is_what_scipy_writes(tmp_path):
    """The per-variable compression repeats savemat(do_compression=True): at zlib's default
    level the bytes after the 128-byte header (which holds the creation time) are equal."""
    data = {"vertices": RNG.uniform(0, 1, (100, 3)), "pose": ANGLES, "name": "x",
            "tri": RNG.integers(0, 100, (50, 3)).astype(np.int32), "ok": np.array([True])}
    ours = write_mat(tmp_path / "ours.mat", data, level=6).read_bytes()
    scipy.io.savemat(tmp_path / "scipy.mat", data, do_compression=True, oned_as="row")
    assert ours[128:] == (tmp_path / "scipy.mat").read_bytes()[128:]
    fast = scipy.io.loadmat(write_mat(tmp_path / "fast.mat", data))  # ZLIB_LEVEL
    for k, v in data.items():
        if k != "name":
            np.testing.assert_array_equal(fast[k].ravel(), np.ravel(v), err_msg=k)


def test_npz_members_compressed_at_zlib_level(tmp_path):
    import zipfile

    v = RNG.uniform(0, 1, (1000, 3)).astype(np.float32)
    p = write_npz(tmp_path / "a.npz", vertices=v, image_size=np.array([4, 5]))
    with zipfile.ZipFile(p) as z:
        assert [i.filename for i in z.infolist()] == ["vertices.npy", "image_size.npy"]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
        assert z.getinfo("vertices.npy").compress_size < v.nbytes
    with np.load(p, allow_pickle=False) as d:
        np.testing.assert_array_equal(d["vertices"], v)


def test_landmarks_txt_and_json(tmp_path):
    p = write_landmarks_txt(tmp_path / "k.txt", KPTS)
    lines = p.read_text().splitlines()
    assert len(lines) == 68 and len(lines[0].split()) == 3
    np.testing.assert_allclose(read_landmarks_txt(p), KPTS, atol=1e-6)
    np.testing.assert_allclose(
        read_landmarks_txt(write_landmarks_txt(tmp_path / "k2.txt", KPTS[:, :2])),
        KPTS[:, :2],
        atol=1e-6,
    )
    vis = KPTS[:, 2] > 128
    j = write_landmarks_json(tmp_path / "k.json", KPTS, visible=vis)
    obj = json.loads(j.read_text())
    assert obj["count"] == 68 and obj["visible"] == vis.tolist()
    np.testing.assert_allclose(read_landmarks_json(j), KPTS)
    with pytest.raises(InputShapeError, match=r"landmarks must have shape \(K, 2\) or \(K, 3\)"):
        write_landmarks_txt(tmp_path / "x.txt", KPTS[:, :1])


def test_pose_txt_and_json(tmp_path):
    a, c = read_pose_txt(write_pose_txt(tmp_path / "pose.txt", ANGLES, CAM))
    np.testing.assert_allclose(a, ANGLES, atol=1e-6)
    np.testing.assert_allclose(c, CAM, rtol=1e-8, atol=1e-9)
    p = write_pose_json(tmp_path / "pose.json", tuple(ANGLES), CAM)
    obj = json.loads(p.read_text())
    assert obj["units"] == "degrees" and obj["yaw"] == 12.5 and obj["roll"] == 1.0
    a, c = read_pose_json(p)
    np.testing.assert_allclose(a, ANGLES)
    np.testing.assert_allclose(c, CAM)
    with pytest.raises(InputShapeError, match=r"camera_matrix must have shape \(3, 4\)"):
        write_pose_json(tmp_path / "p.json", ANGLES, CAM[:, :3])


def test_write_json_numpy_types(tmp_path):
    obj = {
        "a": np.arange(3, dtype=np.int64),
        "b": np.float32(1.5),
        "c": np.array([1.0, np.nan, np.inf]),
        "d": (np.bool_(True), tmp_path / "x"),
        "e": {1: float("nan")},
    }
    p = write_json(tmp_path / "o.json", obj)
    back = json.loads(p.read_text())  # strict JSON
    assert back == {
        "a": [0, 1, 2],
        "b": 1.5,
        "c": [1.0, None, None],
        "d": [True, str(tmp_path / "x")],
        "e": {"1": None},
    }


def test_atomic_write_leaves_no_partial_file(tmp_path):
    p = tmp_path / "o.json"
    write_json(p, {"ok": 1})
    with pytest.raises(TypeError, match="cannot convert object"):
        write_json(p, {"bad": object()})
    assert json.loads(p.read_text()) == {"ok": 1}

    with pytest.raises(RuntimeError), atomic_open(p, "w") as f:
        f.write('{"half": ')
        raise RuntimeError("crash while writing")
    assert json.loads(p.read_text()) == {"ok": 1}  # old content intact
    assert os.listdir(tmp_path) == ["o.json"]  # temporary file removed


@pytest.mark.parametrize(("setting", "synced"), [(None, True), ("1", True), ("0", False),
                                                 ("off", False), ("False", False)])
def test_atomic_open_fsyncs_unless_switched_off(tmp_path, monkeypatch, setting, synced):
    """$PRNET_FSYNC=0 (prnet --no-fsync) skips the fsync; the write stays atomic."""
    from prnet.io._atomic import FSYNC_ENV

    if setting is None:
        monkeypatch.delenv(FSYNC_ENV, raising=False)
    else:
        monkeypatch.setenv(FSYNC_ENV, setting)
    calls = []
    monkeypatch.setattr(os, "fsync", calls.append)
    with atomic_open(tmp_path / "a.txt", "w") as f:
        f.write("x")
    assert (tmp_path / "a.txt").read_text() == "x" and bool(calls) == synced
    assert os.listdir(tmp_path) == ["a.txt"]


def test_cli_no_fsync_reaches_the_writers(tmp_path, monkeypatch, capsys):
    from prnet.cli import main
    from prnet.io._atomic import FSYNC_ENV

    monkeypatch.setenv(FSYNC_ENV, "1")  # restored after the test
    calls = []
    monkeypatch.setattr(os, "fsync", calls.append)
    assert main(["--no-fsync", "reconstruct", str(Path(__file__).parents[2] / "src/prnet/assets/astronaut.jpg"),
                 "-o", str(tmp_path), "--kpt"]) == 0
    assert os.environ[FSYNC_ENV] == "0" and not calls
    assert (tmp_path / "astronaut_0_kpt.txt").is_file()
