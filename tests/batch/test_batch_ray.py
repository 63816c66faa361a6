"""`prnet batch --engine ray` on a local Ray (2 CPUs): the same rows as the local engine, and
one line for an unreachable cluster. Kept to a handful of images: Ray starts slowly."""

from __future__ import annotations

import signal

import pytest

pytest.importorskip("pyarrow", reason="prnet batch needs pyarrow (pip install prnet[batch])")
ray = pytest.importorskip("ray", reason="the Ray engine needs ray[data] (pip install prnet[ray])")
pytest.importorskip("ray.data", reason="the Ray engine needs ray[data] (pip install prnet[ray])")

from batch_data import MAX_PIXELS, assert_same_rows

from prnet import PRN
from prnet.batch import BatchJob, read_dataset, run_batch
from prnet.cli import main
from prnet.pipeline import ModelOptions

NAMES = ["a.jpg", "a_flip.jpg", "sub/a_small.png", "blank.png", "empty.jpg", "big.png"]


@pytest.fixture(scope="module")
def local_ray():
    # ray.init installs its own SIGTERM/SIGINT handlers in the driver: put the runner's back
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def test_unreachable_ray_is_one_line(batch_images, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["batch", str(batch_images / "a.jpg"), "-o", str(out), "--engine", "ray",
                 "--ray-address", "127.0.0.1:9", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("prnet: error: cannot reach Ray"), err
    assert not out.exists()  # nothing written before Ray is reached


def test_ray_rows_equal_local_rows(local_ray, batch_images, prn, tmp_path):
    inputs = [str(batch_images / n) for n in NAMES]
    opts = ModelOptions(device="cpu")
    local = tmp_path / "local"
    # the workers' backends (auto): torch's detector boxes differ from onnxruntime's by float noise
    run_batch(BatchJob(inputs, str(local), max_pixels=MAX_PIXELS, progress=False), opts,
              PRN(options=opts))
    on_ray = tmp_path / "ray"
    summary = run_batch(BatchJob(inputs, str(on_ray), max_pixels=MAX_PIXELS, progress=False,
                                 engine="ray", workers=2, chunk_size=2), opts)
    assert summary["engine"] == "ray" and summary["ray"]["num_gpus"] == 0
    assert summary["images"] == len(NAMES) and summary["faces"] == 3
    assert_same_rows(read_dataset(local), read_dataset(on_ray), atol=1e-4)
    assert ray.is_initialized()  # the job used the Ray it found and left it running
