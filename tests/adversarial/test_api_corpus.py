"""The adversarial corpus through the Python API, and bad API arguments.

``prnet.io.read_image`` must raise :class:`prnet.errors.ImageReadError` (a ``PRNetError``) with
a one-line message naming the file for every bad input, and return RGB uint8 for the others;
``PRN.reconstruct`` must give finite landmarks for good inputs and [] for face-free ones. Bad
arguments (boxes, landmarks, sizes, batch sizes, detector, weights) must raise a
``PRNetError`` subclass with a one-line message — never a ValueError, ZeroDivisionError,
cv2.error, KeyError... from inside — or return a documented safe result: [] or faces with
finite values and a box clipped to the image.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from corpus import (
    BAD,
    EITHER,
    EMPTY_FOLDER,
    GOOD,
    MAX_PIXELS,
    NO_FACE,
    Case,
    base_rgb,
    by_expect,
    make_corpus,
    selected,
)

from prnet.errors import ImageReadError, PRNetError
from prnet.io import read_image

REPO = Path(__file__).resolve().parents[2]
NAN, INF = float("nan"), float("inf")


def _collect() -> list[Case]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return selected(make_corpus(Path(d) / "c"))


CASES = _collect()
# A FIFO is read in a subprocess with a timeout (opening one for reading blocks until a
# writer comes: it must never be opened).
FIFO = [c for c in CASES if c.kind == "fifo_named_pipe"]
IN_PROCESS = [c for c in CASES if c.kind != "fifo_named_pipe"]
GOOD_CASES = by_expect(CASES, GOOD)
NO_FACE_CASES = by_expect(CASES, NO_FACE)
BAD_IN_PROCESS = by_expect(IN_PROCESS, BAD, EMPTY_FOLDER)  # read_image refuses a folder
# PRN.reconstruct reads with the default pixel limit: the image over the corpus's small limit
# is a good image there
BAD_FOR_RECONSTRUCT = [c for c in BAD_IN_PROCESS if c.kind != "over_max_pixels"]


def ids(cases: list[Case]) -> list[str]:
    return [c.kind for c in cases]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    r = tmp_path_factory.mktemp("adversarial_api") / "in"
    make_corpus(r)
    return r


@pytest.fixture(scope="module")
def prn():
    """One CPU model for the module."""
    from prnet import PRN

    return PRN(device="cpu")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return base_rgb(256)


@pytest.fixture(scope="module")
def face(prn, image):
    faces = prn.reconstruct(image)
    assert len(faces) == 1
    return faces[0]


def _one_line_naming(exc: BaseException, case: Case | None = None) -> None:
    msg = str(exc)
    assert msg.strip() and "\n" not in msg.strip(), f"not one line: {msg!r}"
    if case is not None:
        assert any(form in msg for form in case.representations()), \
            f"{msg!r} does not name {case.display!r}"


# --------------------------------------------------------------------------- read_image


def _read(case: Case, root: Path):
    return read_image(case.abspath(root), max_pixels=MAX_PIXELS)


@pytest.mark.parametrize("case", IN_PROCESS, ids=ids(IN_PROCESS))
def test_read_image(case, root):
    try:
        a = _read(case, root)
    except PRNetError as exc:
        assert isinstance(exc, ImageReadError), type(exc)
        assert case.expect in (BAD, EITHER, EMPTY_FOLDER), f"{case.kind}: refused: {exc}"
        _one_line_naming(exc, case)
        return
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{case.kind}: {type(exc).__name__} (not an ImageReadError): {exc}")
    assert case.expect not in (BAD, EMPTY_FOLDER), f"{case.kind}: read, expected an ImageReadError"
    assert isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    if case.size:
        assert (a.shape[1], a.shape[0]) == case.size


@pytest.mark.parametrize("case", IN_PROCESS, ids=ids(IN_PROCESS))
def test_read_image_emits_no_warnings(case, root):
    """Library warnings (Pillow's "Corrupt EXIF data", numpy overflow on Inf pixels) must not
    leak: the CLI promises one line per bad input."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _read(case, root)
        except Exception:  # noqa: BLE001, S110 - test_read_image judges the outcome
            pass
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.mark.parametrize("case", FIFO, ids=ids(FIFO))
def test_read_image_fifo_does_not_block(case, root):
    code = ("import sys\nfrom prnet.io import read_image\nfrom prnet.errors import ImageReadError\n"
            "try:\n    read_image(sys.argv[1])\nexcept ImageReadError as e:\n"
            "    print('ImageReadError', e)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    try:
        r = subprocess.run([sys.executable, "-c", code, case.abspath(root)], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("read_image blocked on a FIFO")
    assert r.returncode == 0 and r.stdout.startswith("ImageReadError"), (r.stdout, r.stderr)
    assert r.stdout.count("\n") == 1 and case.arg in r.stdout


# --------------------------------------------------------------------------- reconstruct


@pytest.mark.parametrize("case", GOOD_CASES, ids=ids(GOOD_CASES))
def test_reconstruct_good(case, root, prn):
    faces = prn.reconstruct(case.abspath(root))
    assert len(faces) >= 1, case.kind
    for f in faces:
        assert f.landmarks.shape == (68, 3) and np.isfinite(f.landmarks).all()
        assert np.isfinite(np.asarray(f.box, float)).all()
        p = f.pose
        assert all(math.isfinite(v) for v in (p.yaw, p.pitch, p.roll))


@pytest.mark.parametrize("case", NO_FACE_CASES, ids=ids(NO_FACE_CASES))
def test_reconstruct_no_face(case, root, prn):
    assert prn.reconstruct(case.abspath(root)) == []


@pytest.mark.parametrize("case", BAD_FOR_RECONSTRUCT, ids=ids(BAD_FOR_RECONSTRUCT))
def test_reconstruct_bad_raises_image_read_error(case, root, prn):
    with pytest.raises(PRNetError) as info:
        try:
            prn.reconstruct(case.abspath(root))
        except PRNetError:
            raise
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{type(exc).__name__} from inside: {exc}")
    assert isinstance(info.value, ImageReadError), type(info.value)
    _one_line_naming(info.value)


# --------------------------------------------------------------------------- bad arguments


def raises_prnet_or_safe(fn, image_shape=(256, 256)):
    """Call ``fn``: it must raise a PRNetError subclass with a one-line message, or return a
    list of faces ([] included) whose landmarks, box and pose are finite and whose box lies
    inside the image (clipped). Returns the exception or the faces."""
    try:
        result = fn()
    except PRNetError as exc:
        _one_line_naming(exc)
        return exc
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{type(exc).__name__} from inside (not a PRNetError): {exc}")
    assert isinstance(result, list), type(result)
    h, w = image_shape
    for f in result:
        assert np.isfinite(f.landmarks).all(), "non-finite landmarks"
        assert np.isfinite(f.vertices).all(), "non-finite vertices"
        assert all(math.isfinite(v) for v in (f.pose.yaw, f.pose.pitch, f.pose.roll))
        b = np.asarray(f.box, float)
        assert np.isfinite(b).all(), f"non-finite box {b}"
        assert b[0] >= -1 and b[1] >= -1 and b[2] <= w + 1 and b[3] <= h + 1, \
            f"box {b.tolist()} not clipped to the {w}x{h} image"
        assert b[2] > b[0] and b[3] > b[1], f"empty or inverted box {b.tolist()}"
    return result


BOXES = {
    "box_nan": [[NAN, 0, 10, 10]],
    "box_inf": [[0, 0, INF, INF]],
    "box_inverted": [[200, 200, 50, 50]],
    "box_zero_size": [[100, 100, 100, 100]],
    "box_huge": [[0, 0, 1e9, 1e9]],
    "box_outside_image": [[1000, 1000, 1200, 1200]],
    "box_outside_negative": [[-500, -500, -300, -300]],
    "box_strings": [["a", "b", "c", "d"]],
    "box_three_values": [[1, 2, 3]],
    "box_flat_list": [10, 10, 100, 100],
}


@pytest.mark.parametrize("name", sorted(BOXES))
def test_bad_boxes(name, prn, image):
    raises_prnet_or_safe(lambda: prn.reconstruct(image, boxes=BOXES[name]))


def test_box_outside_image_gives_no_face(prn, image):
    """A box wholly outside the image holds no face: [] or an error, never a face."""
    r = raises_prnet_or_safe(lambda: prn.reconstruct(image, boxes=[[1000, 1000, 1200, 1200]]))
    assert isinstance(r, PRNetError) or r == []


def _landmark_sets(face) -> dict[str, list]:
    k = np.asarray(face.landmarks, float)
    nan = k.copy()
    nan[10, 0] = NAN
    return {
        "landmarks_nan": [nan],
        "landmarks_inf": [np.where(np.arange(68)[:, None] == 3, INF, k)],
        "landmarks_68_identical": [np.repeat(k[:1], 68, axis=0)],
        "landmarks_4_points": [k[:4]],
        "landmarks_1d": [k[:, 0]],
        "landmarks_strings": [[["x", "y"]] * 68],
    }


LANDMARK_CASES = ["landmarks_nan", "landmarks_inf", "landmarks_68_identical",
                  "landmarks_4_points", "landmarks_1d", "landmarks_strings"]


@pytest.mark.parametrize("name", LANDMARK_CASES)
def test_bad_landmarks(name, prn, image, face):
    sets = _landmark_sets(face)
    raises_prnet_or_safe(lambda: prn.reconstruct(image, landmarks=sets[name]))


@pytest.mark.parametrize("size", [0, -1])
def test_uv_texture_bad_size(face, size):
    with pytest.raises(PRNetError) as info:
        try:
            face.uv_texture(size=size)
        except PRNetError:
            raise
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{type(exc).__name__} from inside (not a PRNetError): {exc}")
    _one_line_naming(info.value)


@pytest.mark.parametrize("value", [None, 123, 4.5, object()], ids=["None", "int", "float", "object"])
def test_reconstruct_not_an_image(prn, value):
    raises_prnet_or_safe(lambda: prn.reconstruct(value))


@pytest.mark.parametrize("shape,dtype", [((0, 0, 3), np.uint8), ((10, 10, 5), np.uint8),
                                         ((256, 256, 3), np.int64), ((4,), np.uint8)],
                         ids=["empty", "5_channels", "int64", "1d"])
def test_reconstruct_bad_arrays(prn, shape, dtype):
    raises_prnet_or_safe(lambda: prn.reconstruct(np.zeros(shape, dtype)))


def test_reconstruct_float_array_with_nan(prn, image):
    a = image.astype(np.float32) / 255
    a[:16, :16] = NAN
    a[-16:, -16:] = INF
    raises_prnet_or_safe(lambda: prn.reconstruct(a))


def _new_prn(**kw):
    from prnet import PRN

    return PRN(**{"device": "cpu", **kw})


@pytest.mark.parametrize("kw", [{"batch_size": 0}, {"batch_size": -1}, {"detector": "nope"},
                                {"model": "nope"}, {"device": "nope"}, {"tta": "bogus"},
                                {"precision": "fp8"}],
                         ids=["batch_size_0", "batch_size_-1", "unknown_detector",
                              "unknown_model", "unknown_device", "unknown_tta",
                              "unknown_precision"])
def test_bad_model_options(kw, image):
    raises_prnet_or_safe(lambda: _new_prn(**kw).reconstruct(image))


def test_batch_size_0_on_a_live_model(prn, image):
    old = prn.batch_size
    try:
        raises_prnet_or_safe(lambda: (setattr(prn, "batch_size", 0), prn.reconstruct(image))[1])
    finally:
        prn.batch_size = old


def _bundled_tensors():
    from safetensors.torch import load_file

    from prnet.weights import weight_entry

    return load_file(str(weight_entry("mobilenet_unet").path))


@pytest.fixture(scope="module")
def weights_files(tmp_path_factory) -> dict[str, Path]:
    import torch
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("weights")
    t = _bundled_tensors()
    files = {}
    (d / "text.safetensors").write_text("these are not weights\n")
    files["not_safetensors"] = d / "text.safetensors"
    (d / "empty.safetensors").write_bytes(b"")
    files["empty_file"] = d / "empty.safetensors"
    files["missing_file"] = d / "missing.safetensors"
    nan = dict(t)
    key = next(k for k, v in t.items() if v.is_floating_point() and v.numel() > 1)
    nan[key] = torch.full_like(t[key], NAN)
    save_file(nan, str(d / "nan.safetensors"))
    files["nan_tensor"] = d / "nan.safetensors"
    save_file({k: torch.zeros_like(v) for k, v in t.items()}, str(d / "zeros.safetensors"))
    files["all_zeros"] = d / "zeros.safetensors"
    save_file({"weight": torch.randn(4, 4)}, str(d / "random.safetensors"))
    files["unrelated_tensors"] = d / "random.safetensors"
    return files


@pytest.mark.parametrize("kind", ["not_safetensors", "empty_file", "missing_file", "nan_tensor",
                                  "all_zeros", "unrelated_tensors"])
def test_bad_weights(kind, weights_files, image):
    raises_prnet_or_safe(lambda: _new_prn(weights=weights_files[kind]).reconstruct(image))
