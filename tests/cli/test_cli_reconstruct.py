"""`prnet reconstruct`, `prnet demo` and `prnet info` (in-process, plus one real subprocess)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prnet.cli import build_parser, main
from prnet.cli.reconstruct import plan_outputs
from prnet.io import read_image, read_landmarks_txt, read_obj

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "astronaut_golden.json"
DEFAULT_FILES = {"x.json", "x_0.obj", "x_0_kpt.txt", "x_0_kpt.json", "x_0_pose.txt",
                 "x_0_pose.json"}


def run_cli(*argv) -> tuple[int, str, str]:
    """``prnet ARGV`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def blank(path: Path, size=(64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(path)
    return path


@pytest.fixture
def sample_copy(sample_image_path, tmp_path) -> Path:
    p = tmp_path / "in" / "x.jpg"
    p.parent.mkdir(parents=True)
    shutil.copy(sample_image_path, p)
    return p


def test_demo_subprocess(tmp_path):
    out = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "prnet", "demo", "-o", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "1 image, 1 face, 0 without a face, 0 failed" in res.stdout
    summary = json.loads((out / "astronaut.json").read_text())
    assert len(summary["faces"]) == 1
    # the demo: every output (--all plus --texture --ply --mat --front), plus astronaut_viz.jpg
    assert len(summary["files"]) == 25 and summary["image_files"] == ["astronaut_viz.jpg"]
    assert all((out / f).is_file() for f in summary["files"])
    assert {"astronaut_0.obj", "astronaut_0_tex.obj", "astronaut_0_frontal.obj",
            "astronaut_0.ply", "astronaut_0.npz", "astronaut_0.mat", "astronaut_0_depth.npy",
            "astronaut_0_viz_mesh.png", "astronaut_0.glb"} <= set(summary["files"])
    assert read_obj(out / "astronaut_0.obj").vertices.shape[1] == 3


def test_sample_default_outputs(sample_copy, tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("reconstruct", sample_copy, "-o", out, "-q")
    assert code == 0 and stderr == "" and stdout == ""  # -q: no summary
    assert {p.name for p in out.iterdir()} == DEFAULT_FILES
    s = json.loads((out / "x.json").read_text())
    assert s["image"] == str(sample_copy) and (s["width"], s["height"]) == (512, 512)
    face = s["faces"][0]
    assert set(face) >= {"box", "score", "landmarks", "pose", "landmark_visibility", "files"}
    assert len(face["landmark_visibility"]) == 68
    gold = np.array(json.loads(GOLDEN.read_text())["landmarks"])
    np.testing.assert_allclose(face["landmarks"], gold, atol=1.0)
    np.testing.assert_allclose(read_landmarks_txt(out / "x_0_kpt.txt"), gold, atol=1.0)
    # viewer orientation: y flipped with the image height
    m = read_obj(out / "x_0.obj")
    assert m.colors is not None
    assert abs(np.median(511 - m.vertices[:, 1]) - np.median(gold[:, 1])) < 15


def test_nested_folder_shared_stems_and_no_face(sample_image_path, tmp_path):
    src = tmp_path / "in"
    for sub in ("a", "b"):
        (src / sub).mkdir(parents=True)
        shutil.copy(sample_image_path, src / sub / "x.jpg")
    blank(src / "b" / "deep" / "y.png")
    (src / "notes.txt").write_text("not an image, ignored inside folders")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("reconstruct", src, "-o", out, "--kpt")
    assert code == 0, stderr
    assert "3 images, 2 faces, 1 without a face, 0 failed" in stdout
    lines = stderr.splitlines()
    assert len(lines) == 1 and "no face" in lines[0] and "y.png" in lines[0]
    for sub in ("a", "b"):  # same stem: folder structure kept, nothing overwritten
        s = json.loads((out / sub / "x.json").read_text())
        assert s["image"] == str(src / sub / "x.jpg")
        assert s["files"] == ["x_0_kpt.txt", "x_0_kpt.json"]
        assert (out / sub / "x_0_kpt.txt").is_file()
    s = json.loads((out / "b" / "deep" / "y.json").read_text())
    assert s["faces"] == [] and (s["width"], s["height"]) == (64, 48)
    assert not list(out.glob("*.json"))


def test_glob_input_and_strict(sample_image_path, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(sample_image_path, src / "x.jpg")
    blank(src / "z.png")
    out = tmp_path / "out"
    code, _, stderr = run_cli("reconstruct", str(src / "*.png"), "-o", out, "--strict",
                                   "--pose")
    assert code == 3  # --strict: an image without a face is an error
    assert stderr.strip() == f"prnet: error: no face found in {src / 'z.png'}"
    assert {p.name for p in out.iterdir()} == {"z.json"}  # the glob matched only z.png
    code, _, stderr = run_cli("reconstruct", str(src / "*.png"), "-o", out, "--pose")
    assert code == 0 and stderr.startswith("prnet: warning: no face found")


def test_skip_existing_resumes_a_run(sample_copy, tmp_path, monkeypatch):
    blank(sample_copy.parent / "z.png")
    out = tmp_path / "out"
    assert run_cli("reconstruct", sample_copy.parent, "-o", out, "--kpt")[0] == 0
    assert json.loads((out / "x.json").read_text())["options"]["outputs"] == ["kpt"]
    (out / "x_0_kpt.json").unlink()  # an interrupted export: x is redone, z is not
    (sample_copy.parent / "bad.png").write_bytes(b"oops")  # unreadable inputs are tried again
    code, stdout, stderr = run_cli("reconstruct", sample_copy.parent, "-o", out, "--kpt",
                                   "--skip-existing")
    assert code == 1 and "cannot read image" in stderr
    assert "2 images, 1 face, 0 without a face, 1 failed" in stdout and "1 skipped" in stdout
    assert (out / "x_0_kpt.json").is_file()
    # everything done: the model is not even loaded
    (sample_copy.parent / "bad.png").unlink()
    import prnet.cli.reconstruct as rec

    monkeypatch.setattr(rec, "load_prn", lambda *a, **k: pytest.fail("model loaded"))
    code, stdout, _ = run_cli("reconstruct", sample_copy.parent, "-o", out, "--kpt",
                              "--skip-existing")
    assert code == 0 and "0 images" in stdout and "2 skipped (done earlier)" in stdout
    # other outputs asked for: nothing is skipped
    monkeypatch.undo()
    code, stdout, _ = run_cli("reconstruct", sample_copy.parent, "-o", out, "--pose",
                              "--skip-existing")
    assert code == 0 and "2 images" in stdout and "skipped" not in stdout


def test_plan_outputs():
    out = Path("o")
    flat = plan_outputs([Path("a/x.jpg"), Path("b/y.jpg")], out)
    assert flat == [(out, "x"), (out, "y")]
    nested = plan_outputs([Path("d/a/x.jpg"), Path("d/b/X.png"), Path("d/b/c/y.jpg")], out)
    assert nested == [(out / "a", "x"), (out / "b", "X"), (out / "b" / "c", "y")]
    same_dir = plan_outputs([Path("a/x.jpg"), Path("a/x.png")], out)
    assert same_dir == [(out, "x_jpg"), (out, "x_png")]


def test_boxes_file_face_index_and_texture(sample_copy, tmp_path):
    gold = json.loads(GOLDEN.read_text())
    other = blank(sample_copy.parent / "other.png")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"x.jpg": [gold["box"]], "other.png": []}))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "reconstruct", sample_copy, other, "-o", out, "--boxes", boxes, "--face-index", "0",
        "--texture", "--texture-size", "64", "--mask-invisible", "--front")
    assert code == 0, stderr
    assert "2 images, 1 face, 1 without a face" in stdout
    s = json.loads((out / "x.json").read_text())
    assert s["faces"][0]["score"] == 1.0  # a given box
    np.testing.assert_allclose(s["faces"][0]["landmarks"], gold["landmarks"], atol=1.5)
    assert set(s["files"]) == {"x_0_tex.obj", "x_0_tex.mtl", "x_0_tex_texture.png",
                               "x_0_frontal_tex.obj", "x_0_frontal_tex.mtl",
                               "x_0_frontal_tex_texture.png"}
    assert read_image(out / "x_0_tex_texture.png").shape == (64, 64, 3)
    assert json.loads((out / "other.json").read_text())["faces"] == []
    # a face index the image does not have: reported, not an error (unless --strict)
    code, _, stderr = run_cli("reconstruct", sample_copy, "-o", tmp_path / "o2",
                              "--boxes", boxes, "--face-index", "3", "--kpt")
    assert code == 0
    assert stderr.strip() == f"prnet: warning: no face with index 3 (1 found) in {sample_copy}"


def test_front_adds_to_defaults_refine_and_model_flags(sample_copy, tmp_path):
    out = tmp_path / "out"
    code, _, stderr = run_cli("reconstruct", sample_copy, "-o", out, "--front", "--refine",
                              "--device", "cpu", "--batch-size", "1", "--model",
                              "mobilenet_unet", "--detector", "blazeface_short")
    assert code == 0, stderr
    assert {p.name for p in out.iterdir()} == DEFAULT_FILES | {"x_0_frontal.obj"}
    gold = np.array(json.loads(GOLDEN.read_text())["landmarks"])
    lm = np.array(json.loads((out / "x.json").read_text())["faces"][0]["landmarks"])
    assert np.abs(lm - gold)[:, :2].mean() < 3.0  # refined: another crop, nearly the same


def test_usage_errors(sample_copy, tmp_path):
    with pytest.raises(SystemExit) as e, contextlib.redirect_stderr(io.StringIO()):
        main(["reconstruct", str(sample_copy), "-o", str(tmp_path), "--detector", "dlib"])
    assert e.value.code == 2
    code, _, stderr = run_cli("reconstruct", sample_copy, "-o", tmp_path / "o",
                              "--model", "nope")
    assert code == 1 and stderr.count("\n") == 1 and "unknown model 'nope'" in stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = run_cli("reconstruct", empty, "-o", tmp_path / "o")
    assert code == 1 and stderr.strip() == f"prnet: error: no images found in {empty}"
    code, _, stderr = run_cli("reconstruct", sample_copy, "-o", sample_copy)
    assert code == 1 and "is not a folder" in stderr


def test_help_lists_every_flag():
    text = build_parser()._subparsers._group_actions[0].choices["reconstruct"].format_help()
    for flag in ("--obj", "--texture", "--texture-size", "--mask-invisible", "--front", "--kpt",
                 "--pose", "--depth", "--mat", "--ply", "--npz", "--viz", "--all", "--device",
                 "--batch-size", "--detector", "--boxes", "--weights", "--model", "--refine",
                 "--face-index", "--max-pixels", "--strict", "--skip-existing", "--tta", "--tta-shift", "--precision",
                 "exit status"):
        assert flag in text, flag


@pytest.mark.parametrize(("flags", "mode"), [((), "off"), (("--tta",), "flip"),
                                             (("--tta-shift",), "shift"), (("--tta-shift", "--tta"), "flip")])
def test_tta_flags_do_not_swallow_inputs(flags, mode):
    for cmd in (["reconstruct", "-o", "out", *flags, "a.jpg"], ["eval", "aflw2000", *flags, "dev"]):
        args = build_parser().parse_args(cmd)
        assert args.tta == mode
        assert "a.jpg" in getattr(args, "paths", ["a.jpg"])


def test_info_text_and_json():
    code, out, err = run_cli("info")
    assert code == 0 and err == ""
    for word in ("prnet", "torch", "numpy", "opencv", "python", "cuda_available", "sha256",
                 "parameters", "blazeface", "face_texels", "triangles", "bfm", "non-commercial"):
        assert word in out, word
    code, out, _ = run_cli("info", "--json")
    info = json.loads(out)
    from prnet.uv.layout import load_layout

    lay = load_layout()
    assert info["model"]["sha256_ok"] is True and info["model"]["bundled"] is True
    assert info["model"]["parameters"] > 100_000
    assert info["uv_layout"]["face_texels"] == lay.n_vertices
    assert info["uv_layout"]["triangles"] == len(lay.triangles)
    assert info["device"]["cuda_available"] in (True, False)
    assert isinstance(info["bfm"]["cached"], bool)
    assert "non-commercial" in info["model"]["licence"]


def test_info_bad_weights(tmp_path):
    bad = tmp_path / "w.safetensors"
    bad.write_text("not weights")
    code, out, err = run_cli("info", "--json", "--weights", bad)
    assert code == 1
    assert json.loads(out)["model"]["weights"] == str(bad)
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err


def test_output_folder_inside_input_folder_is_not_read(tmp_path):
    src = tmp_path / "in"
    blank(src / "g.png", size=(96, 96))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"g.png": [[20, 20, 76, 76]]}))  # a "face" on a grey image
    out = src / "out"
    for _ in range(2):  # the second run must not take the first run's PNGs for inputs
        code, stdout, stderr = run_cli("reconstruct", src, "-o", out, "--boxes", boxes,
                                       "--depth")
        assert code == 0, stderr
        assert "1 image, 1 face" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["g.json", "g_0_depth.npy", "g_0_depth.png"]
