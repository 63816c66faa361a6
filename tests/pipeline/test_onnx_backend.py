"""The onnxruntime backend of stage 4 and ``prnet export onnx``: the exported graph matches the
torch module on real crops, reconstruction and flip TTA agree, wrong files and a missing
onnxruntime are one-line errors (tests needing onnx/onnxruntime skip with the reason)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from prnet.errors import PRNetError, WeightsError
from prnet.io import read_image

try:
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    HAVE_ORT = True
except ImportError:
    HAVE_ORT = False
needs_ort = pytest.mark.skipif(not HAVE_ORT, reason='needs onnx and onnxruntime: pip install "prnet[onnx]"')


@pytest.fixture(scope="module")
def astro(sample_image_path):
    return read_image(sample_image_path)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    """The bundled network exported once through the CLI (also tests ``prnet export onnx``)."""
    from prnet.cli import main

    path = tmp_path_factory.mktemp("onnx") / "prnet.onnx"
    assert main(["export", "onnx", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def prn_ort(onnx_file):
    from prnet import PRN

    return PRN(device="cpu", onnx=onnx_file)


@pytest.fixture(scope="module")
def crops(prn, astro):
    """The astronaut's face at 3 shifts × 2 scales of its crop window."""
    from prnet.pipeline.posmaps import crop_faces

    m = prn.plan(prn.detect(astro))[0].crop_matrix
    mats = []
    for dx in (-15.0, 0.0, 15.0):
        for s in (0.9, 1.1):
            mm = m.copy()
            mm[:, :2] *= s
            mm[:, 2] = mm[:, 2] * s + (1 - s) * 127.5 + np.array([dx, -dx / 2])
            mats.append(mm)
    return crop_faces(astro, mats).crops


@needs_ort
def test_export_metadata_and_dynamic_batch(onnx_file):
    from prnet import __version__
    from prnet.models.weights import BUNDLED
    from prnet.pipeline.onnx_backend import onnx_metadata, open_runtime

    meta = onnx_metadata(onnx_file)
    assert meta["model"] == "mobilenet_unet" and meta["prnet_version"] == __version__
    assert meta["weights_sha256"] == BUNDLED["mobilenet_unet"].sha256
    assert "[0, 1]" in meta["normalisation"]
    sess = open_runtime(onnx_file, threads=1)
    y = sess.run(None, {"crops": np.zeros((3, 3, 256, 256), np.float32)})[0]
    assert y.shape == (3, 3, 256, 256)


@needs_ort
def test_onnx_matches_torch_on_real_crops(prn, prn_ort, crops):
    assert prn_ort.backend == "onnxruntime" and type(prn_ort.network).__name__ == "OnnxPosmapNetwork"
    ref, out = prn.predict_crops(crops), prn_ort.predict_crops(crops)
    assert out.shape == ref.shape == (len(crops), 256, 256, 3) and out.dtype == np.float32
    assert float(np.abs(out - ref).max()) < 1e-2  # crop pixels


@needs_ort
def test_flip_tta_through_the_backend(prn, prn_ort, crops):
    import torch

    from prnet.pipeline.posmaps import network_input

    plain = prn_ort.network.forward(network_input(torch.from_numpy(crops[:2])))
    prn.tta = prn_ort.tta = "flip"
    try:
        ref, out = prn.predict_crops(crops[:2]), prn_ort.predict_crops(crops[:2])
    finally:
        prn.tta = prn_ort.tta = "off"
    assert float(np.abs(out - ref).max()) < 1e-2
    assert float(np.abs(out - plain).max()) > 1e-2  # the flip pass did change the maps


@needs_ort
def test_reconstruct_landmarks_match_torch(prn, prn_ort, astro):
    ref, out = prn.reconstruct(astro), prn_ort.reconstruct(astro)
    assert len(ref) == len(out) == 1
    assert float(np.abs(out[0].landmarks - ref[0].landmarks).max()) < 0.05


@needs_ort
def test_cache_export_keyed_by_weights(tmp_path, monkeypatch):
    from prnet import PRN

    monkeypatch.setenv("PRNET_CACHE", str(tmp_path))
    p = PRN(device="cpu", backend="onnxruntime")
    files = list((tmp_path / "onnx").glob("mobilenet_unet*.onnx"))
    assert len(files) == 1 and files[0].name.startswith("mobilenet_unet-206bbf5fc8ae1802")
    assert p.network.path == files[0]
    assert not list((tmp_path / "onnx").glob("*.tmp"))


@needs_ort
def test_default_backend_is_onnxruntime_exported_on_first_use(tmp_path, monkeypatch, astro, prn):
    """The default ("auto") on the CPU in fp32: onnxruntime, the network exported into an empty
    cache on first use (offline: nothing is downloaded), landmarks as torch's."""
    from prnet import PRN

    monkeypatch.setenv("PRNET_CACHE", str(tmp_path / "empty"))
    p = PRN(device="cpu")
    assert p.backend == "onnxruntime" and p.options.backend == "auto"
    # the network and the detector's two networks
    assert len(list((tmp_path / "empty" / "onnx").glob("*.onnx"))) == 3
    assert p.detector.backend == "onnxruntime"
    got, want = p.reconstruct(astro), prn.reconstruct(astro)
    assert float(np.abs(got[0].landmarks - want[0].landmarks).max()) < 0.05
    from prnet.pipeline.onnx_backend import resolve_backend

    assert resolve_backend("auto", "cpu", "bf16") == "torch"  # onnxruntime runs fp32 only


@needs_ort
def test_auto_falls_back_to_torch_when_export_fails(tmp_path, monkeypatch, caplog):
    import logging

    import prnet.pipeline.onnx_backend as ob
    from prnet import PRN

    def broken(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr(ob, "cached_onnx", broken)
    with caplog.at_level(logging.WARNING, logger="prnet.pipeline.prn"):
        p = PRN(device="cpu")
    assert p.backend == "torch" and type(p.network).__name__ == "PosmapNetwork"
    (rec,) = [r for r in caplog.records if r.name == "prnet.pipeline.prn"]
    assert "read-only file system" in rec.getMessage() and "\n" not in rec.getMessage()
    with pytest.raises(OSError, match="read-only"):
        PRN(device="cpu", backend="onnxruntime")  # asked for explicitly: no fallback


@needs_ort
def test_wrong_onnx_file_is_one_line(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from prnet import PRN

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "other",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 224, 224])])
    other = tmp_path / "other.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), other)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all")
    for path in (other, junk):
        with pytest.raises(WeightsError) as e:
            PRN(device="cpu", onnx=path)
        assert "\n" not in str(e.value) and str(path) in str(e.value)


@needs_ort
def test_onnxruntime_refuses_cuda_and_half():
    from prnet.pipeline.onnx_backend import resolve_backend

    with pytest.raises(PRNetError, match="runs on the CPU"):
        resolve_backend("onnxruntime", "cuda", "fp32")
    with pytest.raises(PRNetError, match="fp32"):
        resolve_backend("onnxruntime", "cpu", "bf16")
    assert resolve_backend("auto", "cuda", "fp32") == "torch"
    assert resolve_backend("auto", "cpu", "fp32") == "onnxruntime"


def test_missing_onnxruntime_is_one_line(monkeypatch):
    from prnet import PRN
    from prnet.pipeline.onnx_backend import resolve_backend

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    with pytest.raises(PRNetError) as e:
        PRN(device="cpu", backend="onnxruntime")
    msg = str(e.value)
    assert 'pip install "prnet[onnx]"' in msg and "torch" in msg and "\n" not in msg
    assert resolve_backend("auto", "cpu", "fp32") == "torch"


def test_backend_option_checked():
    from prnet.pipeline import ModelOptions

    assert ModelOptions().backend == "auto"
    with pytest.raises(PRNetError, match="backend"):
        ModelOptions(backend="tensorrt")
    with pytest.raises(WeightsError, match="not found"):
        ModelOptions(onnx="/nonexistent/prnet.onnx")


def test_export_cli_errors_are_one_line(tmp_path, capsys):
    from prnet.cli import main

    assert main(["export", "onnx", "-o", str(tmp_path / "x.onnx"), "--weights",
                 str(tmp_path / "missing.safetensors")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("prnet: error:") and "\n" not in err


@needs_ort
def test_bench_through_onnxruntime(onnx_file, tmp_path, capsys):
    import json

    from prnet.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "--onnx", str(onnx_file), "--repeats", "1", "--seconds", "0.01",
                 "--batches", "1", "2", "--dtypes", "fp32", "--video-frames", "0", "--json",
                 str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["backend"] == "onnxruntime" and r["network_ms_b1"] > 0
    rows = [(x["backend"], x["batch"]) for x in r["throughput"]]
    assert ("onnxruntime", 1) in rows and ("onnxruntime", 2) in rows and ("torch", 1) in rows
    assert "onnxruntime" in capsys.readouterr().out


@needs_ort
@pytest.mark.parametrize("variant", ["short", "full"])
def test_detector_export_matches_torch(variant, tmp_path):
    import torch

    from prnet.cli import main
    from prnet.detect.blazeface import SPECS, load_net
    from prnet.pipeline.onnx_backend import _import_ort

    path = tmp_path / f"blazeface_{variant}.onnx"
    assert main(["export", "onnx", "-o", str(path), "--detector", variant]) == 0
    size = SPECS[variant].input_size
    x = torch.rand(3, 3, size, size) * 2 - 1
    with torch.inference_mode():
        reg, cls = load_net(variant)(x)
    sess = _import_ort().InferenceSession(str(path), providers=["CPUExecutionProvider"])
    oreg, ocls = sess.run(["regressors", "logits"], {"image": x.numpy()})
    # fp32 summation order: up to 0.02 on the short net's logits of a real photo, which reach -2e4
    assert np.abs(oreg - reg.numpy()).max() < 0.05 and np.abs(ocls - cls.numpy()).max() < 0.05
    assert sess.get_modelmeta().custom_metadata_map["model"] == f"blazeface_{variant}"


@needs_ort
def test_session_threads_follow_torch(onnx_file, monkeypatch):
    """`prnet --threads N` sets torch's threads; the onnxruntime runner takes the same number."""
    import onnxruntime
    import torch

    from prnet.pipeline.onnx_backend import open_runtime

    seen = []
    real = onnxruntime.InferenceSession

    def spy(path, so, **kw):
        seen.append(so.intra_op_num_threads)
        return real(path, so, **kw)

    monkeypatch.setattr(onnxruntime, "InferenceSession", spy)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        open_runtime(onnx_file)
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


@needs_ort
def test_forward_tensor_through_the_backend(prn, prn_ort, crops):
    """The device path's stage-4 call (``forward_tensor``) gives ``forward``'s maps with either
    backend."""
    import torch

    from prnet.pipeline.posmaps import network_input

    x = network_input(torch.from_numpy(crops[:2]))
    for p in (prn, prn_ort):
        got = p.network.forward_tensor(x)
        assert isinstance(got, torch.Tensor) and got.shape == (2, 256, 256, 3)
        np.testing.assert_array_equal(got.numpy(), p.network.forward(x))


@needs_ort
def test_sessions_do_not_spin(onnx_file):
    """Idle session threads sleep: spinning ones took the cores the next stage needed (2-3x
    slower runs on two cores)."""
    from prnet.models.onnx_runtime import open_session

    sess = open_session(onnx_file, threads=2)
    assert sess.get_session_options().get_session_config_entry(
        "session.intra_op.allow_spinning") == "0"


@needs_ort
def test_numpy_input_is_the_torch_input(prn_ort, crops):
    """The backend builds its input in numpy, equal to network_input's tensor, and its mirror
    to the tensor's flip."""
    import torch

    from prnet.pipeline.posmaps import network_input

    ref = network_input(torch.from_numpy(crops[:3]))
    x = prn_ort.network.input(crops[:3])
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x, ref.numpy(), atol=1e-7)
    m = prn_ort.network.mirrored(x)
    assert m.flags.c_contiguous
    np.testing.assert_allclose(m, ref.flip(3).numpy(), atol=1e-7)


@needs_ort
def test_int8_fast_network(prn, astro):
    """precision int8 runs the fast network's bundled int8 file in onnxruntime: landmarks within
    a few pixels of fp32 (dev NME +0.016, MODEL_CARD), and not the fp32 maps."""
    from prnet import PRN
    from prnet.weights import weight_entry

    fp32, int8 = PRN(model="fast", device="cpu"), PRN(model="fast", device="cpu", precision="int8")
    assert int8.backend == "onnxruntime" and int8.precision == "int8"
    assert int8.network.path == weight_entry("mobilenet_unet_fast_int8").path
    a, b = fp32.reconstruct(astro)[0], int8.reconstruct(astro)[0]
    d = np.linalg.norm(a.landmarks[:, :2] - b.landmarks[:, :2], axis=1)
    assert 0 < d.mean() < 2.0 and d.max() < 6.0, d
    assert np.isfinite(b.pose.angles_deg).all()


@pytest.mark.parametrize(("kw", "message"), [
    ({"precision": "int8"}, "no int8 file for network mobilenet_unet"),
    ({"model": "fast", "precision": "int8", "backend": "torch"}, "int8 runs in onnxruntime"),
])
def test_int8_refusals_are_one_line(kw, message):
    from prnet import PRN

    if not HAVE_ORT and "backend" not in kw:
        message = "needs onnxruntime"
    with pytest.raises(PRNetError, match=message) as err:
        PRN(**kw)
    assert "\n" not in str(err.value)


def test_int8_needs_the_cpu():
    from prnet.pipeline.prn import _check_precision

    with pytest.raises(PRNetError, match="int8 runs in onnxruntime on the CPU"):
        _check_precision("int8", "cuda:0")
    assert _check_precision("int8", "cpu") == "int8"


@needs_ort
def test_int8_with_own_weights_is_refused(tmp_path):
    from prnet import PRN
    from prnet.models.weights import BUNDLED

    with pytest.raises(PRNetError, match="drop --weights"):
        PRN(model="fast", device="cpu", precision="int8", weights=BUNDLED["mobilenet_unet_fast"].path)


def test_int8_cli_error_is_one_line(tmp_path, capsys, sample_image_path):
    from prnet.cli import main

    assert main(["reconstruct", str(sample_image_path), "-o", str(tmp_path / "o"), "--precision",
                 "int8"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "int8" in err[0]


def test_int8_without_onnxruntime_is_one_line(monkeypatch):
    from prnet.pipeline import onnx_backend

    monkeypatch.setattr(onnx_backend, "onnxruntime_available", lambda: False)
    for backend in ("auto", "onnxruntime"):
        with pytest.raises(PRNetError, match=r'int8 needs onnxruntime: pip install "prnet\[onnx\]"'):
            onnx_backend.resolve_backend(backend, "cpu", "int8")


@needs_ort
def test_bench_backends_follow_the_precision():
    """`prnet bench --precision int8` times only the backend that runs int8."""
    from prnet.eval.bench_backends import available_backends

    assert available_backends("cpu", "fp32") == ["torch", "onnxruntime"]
    assert available_backends("cpu", "int8") == ["onnxruntime"]
