"""The output registry is the one list of outputs: CLI flags, --all, defaults, ExportOptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prnet.cli import build_parser
from prnet.cli.reconstruct import _export_options
from prnet.errors import PRNetError
from prnet.outputs import (
    DEFAULT_OUTPUTS,
    OUTPUTS,
    ExportOptions,
    Output,
    all_names,
    default_names,
    export_face,
    export_image,
    get_output,
    is_exported,
    output_names,
    register,
    registered,
    unregister,
)

BUILTIN = ("obj", "texture", "front", "kpt", "pose", "depth", "mat", "ply", "npz", "viz", "glb")


def _write_dummy(face, base: Path, options) -> list[Path]:
    path = base.with_name(base.name + ".dummy.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"face {face.index}\n")
    return [path]


@pytest.fixture
def dummy():
    """A registered extra output, removed afterwards."""
    out = register(Output("dummy", (".dummy.txt",), "a test output", _write_dummy))
    yield out
    unregister("dummy")


def _help(command: str = "reconstruct") -> str:
    return build_parser()._subparsers._group_actions[0].choices[command].format_help()


def _args(*flags: str):
    return build_parser().parse_args(["reconstruct", "-o", "out", *flags, "a.jpg"])


def test_builtin_registry():
    assert output_names() == BUILTIN == OUTPUTS
    assert default_names() == ("obj", "kpt", "pose") == DEFAULT_OUTPUTS
    assert [o.name for o in registered() if o.modifier] == ["front"]
    assert get_output("glb").suffixes == (".glb",)
    with pytest.raises(PRNetError, match="unknown output 'stl'"):
        get_output("stl")
    with pytest.raises(PRNetError, match="already registered"):
        register(get_output("obj"))
    with pytest.raises(PRNetError, match="identifier"):
        register(Output("Bad-Name", (".x",), "x", _write_dummy))


def test_cli_flags_come_from_the_registry():
    text = _help()
    for o in registered():
        assert f"--{o.name}" in text
    assert "default when none is given: --obj --kpt --pose" in text
    assert _export_options(_args()).names == list(default_names())
    assert _export_options(_args("--all")).names == list(all_names())
    assert _export_options(_args("--front")).names == ["obj", "front", "kpt", "pose"]
    assert _export_options(_args("--ply", "--glb")).names == ["ply", "glb"]
    demo = build_parser().parse_args(["demo"])
    assert _export_options(demo, demo=True).names == list(output_names())


def test_all_is_every_result_once_and_takes_the_rest_by_name():
    """--all leaves out the other containers of results it writes (the textured OBJ: the GLB
    has the mesh with its texture; PLY: OBJ and GLB; MAT: NPZ) and the frontal variants; naming
    them beside --all adds them, so --all --texture --ply --mat --front is every output."""
    assert set(output_names()) - set(all_names()) == {"texture", "front", "mat", "ply"}
    with_ply = {*all_names(), "ply"}
    assert _export_options(_args("--all", "--ply")).names == [n for n in output_names()
                                                             if n in with_ply]
    every = _export_options(_args("--all", "--texture", "--ply", "--mat", "--front"))
    assert every.names == list(output_names()) == ExportOptions.every().names
    assert _export_options(_args("--all")) == ExportOptions.all()
    assert "every result once" in " ".join(_help().split())
    demo = build_parser().parse_args(["demo", "--all"])
    assert _export_options(demo, demo=True).names == list(all_names())


def test_registering_an_output_adds_flag_all_and_option(dummy, face, tmp_path):
    assert "--dummy" in _help() and "--dummy" in _help("demo")
    assert "a test output (<stem>_<i>.dummy.txt)" in " ".join(_help().split())
    assert _export_options(_args("--dummy")).names == ["dummy"]
    assert _export_options(_args("--all")).names[-1] == "dummy"
    assert "dummy" not in ExportOptions().names
    opts = ExportOptions(dummy=True)
    assert opts.dummy and opts.names == ["obj", "kpt", "pose", "dummy"]
    assert ExportOptions.from_names(["dummy"]).to_json()["outputs"] == ["dummy"]
    paths = export_image([face], tmp_path, "x", ExportOptions.from_names(["kpt", "dummy"]))
    assert [p.name for p in paths] == ["x_0_kpt.txt", "x_0_kpt.json", "x_0.dummy.txt", "x.json"]
    assert is_exported(tmp_path, "x", ExportOptions.from_names(["kpt", "dummy"]))
    assert not is_exported(tmp_path, "x", ExportOptions.from_names(["kpt"]))


def test_default_entries_change_the_defaults(tmp_path):
    register(Output("dummy", (".dummy.txt",), "a test output", _write_dummy, default=True))
    try:
        assert default_names()[-1] == "dummy" and "dummy" in ExportOptions().names
        assert "--pose --dummy" in _help()
    finally:
        unregister("dummy")
    assert "dummy" not in ExportOptions().names and "--dummy" not in _help()


def test_export_options_api():
    assert ExportOptions(ply=True).names == ["obj", "kpt", "pose", "ply"]
    assert ExportOptions(obj=False).names == ["kpt", "pose"]
    assert ExportOptions(ply=True) == ExportOptions.from_names(["ply", "obj", "kpt", "pose"])
    o = ExportOptions.every(texture_size=64, mask_invisible=True)
    assert o.texture and o.glb and o.texture_size == 64 and o.mask_invisible
    assert o.to_json() == {"outputs": list(OUTPUTS), "texture_size": 64, "mask_invisible": True,
                           "full_frame": False}
    with pytest.raises(PRNetError, match="unknown outputs"):
        ExportOptions(stl=True)
    with pytest.raises(AttributeError):
        o.obj = False  # type: ignore[misc]
    with pytest.raises(AttributeError):
        o.nope  # noqa: B018


@pytest.fixture(scope="module")
def face(prn, sample_image_path):
    return prn.reconstruct(sample_image_path)[0]


def test_every_file_matches_a_declared_suffix(face, tmp_path):
    opts = ExportOptions.every(texture_size=32)
    for o in registered():
        base = tmp_path / o.name / "img_0"
        paths = o.write(face, base, opts)
        assert paths and all(p.is_file() for p in paths), o.name
        assert all(p.name[len("img_0"):] in o.suffixes for p in paths), (o.name, paths)
    written = export_face(face, tmp_path / "all", "img", opts)
    assert len(written) == len({p.name for p in written})


def test_image_json_has_schema_version(face, tmp_path):
    from prnet.outputs import SCHEMA_VERSION, face_record

    paths = export_image([face], tmp_path, "x", ExportOptions.from_names(["kpt"]))
    s = json.loads(paths[-1].read_text())
    assert s["schema"] == SCHEMA_VERSION == 1
    assert list(s) == ["schema", "prnet_version", "image", "height", "width", "faces", "files",
                       "image_files", "options"]
    rec = face_record(face)
    region = s["faces"][0].pop("region")  # added in schema 1 with the region outputs
    assert len(region) == 4 and all(isinstance(v, int) for v in region)
    assert s["faces"][0] == {**json.loads(json.dumps(rec)), "files": s["files"]}
    assert list(rec) == ["index", "box", "score", "landmarks", "landmark_visibility",
                         "visible_fraction", "pose"]
    assert list(rec["pose"]) == ["yaw", "pitch", "roll", "camera_matrix", "units"]
