"""The device path on a CUDA device gives the CPU's numbers (skipped without CUDA; run by
``scripts/gpu_bench.sh`` before the benchmark): the torch post-stages, the ``grid_sample``
crops, nvJPEG decoding where torchvision is installed, and the end-to-end rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prnet.io import read_image
from prnet.pipeline.device_input import (
    crop_faces_torch,
    decode_jpegs,
    has_nvjpeg,
    image_batch,
    pad_images,
)
from prnet.pipeline.device_post import DevicePost
from prnet.pipeline.posmaps import crop_faces, uncrop_maps

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def astro(sample_image_path):
    return read_image(sample_image_path)


@pytest.fixture(scope="module")
def prn_cuda():
    from prnet import PRN

    return PRN(device="cuda")


def test_post_stages_on_cuda_match_the_numpy_path(prn, astro):
    batch = crop_faces(astro, [p.crop_matrix for p in prn.plan(prn.detect(astro))], "shift")
    maps = prn.predict_crops(batch.crops)
    out = DevicePost(prn.layout, "cuda")(torch.from_numpy(maps).cuda(), batch.matrices, batch.views)
    ref = prn.faces(astro, prn.plan(prn.detect(astro)),
                    uncrop_maps(maps, batch.matrices, batch.views), order="input")[0]
    np.testing.assert_allclose(out.landmarks[0].cpu().numpy(), ref.landmarks, rtol=0, atol=1e-3)
    np.testing.assert_allclose(out.poses.angles_deg[0].cpu().numpy(), ref.pose.angles_deg,
                               rtol=0, atol=1e-3)
    cam = ref.pose.camera_matrix
    assert np.abs(out.poses.camera_matrix[0].cpu().numpy() - cam).max() <= 1e-5 * np.abs(cam).max()
    assert bool(out.plausible[0])


def test_crops_on_cuda_match_warp_affine(prn, astro):
    batch = crop_faces(astro, [p.crop_matrix for p in prn.plan(prn.detect(astro))], "shift")
    got = crop_faces_torch(image_batch([astro], "cuda"), batch.matrices, [0] * len(batch.matrices))
    diff = np.abs(got.permute(0, 2, 3, 1).cpu().numpy() - batch.crops.astype(np.float32))
    assert diff.mean() < 1.0, diff.mean()


@pytest.mark.skipif(not has_nvjpeg(), reason='needs torchvision (pip install "prnet[gpu]")')
def test_nvjpeg_decodes_as_the_host_reader(sample_image_path, astro):
    data = sample_image_path.read_bytes()
    got = pad_images(decode_jpegs([data, data], "cuda"))
    assert got.shape == (2, 3, *astro.shape[:2]) and got.device.type == "cuda"
    diff = np.abs(got[0].permute(1, 2, 0).cpu().numpy().astype(np.int16) - astro)
    assert diff.mean() < 2.0, diff.mean()  # two JPEG decoders: IDCT and upsampling differ slightly


def test_end_to_end_on_cuda(prn_cuda, tmp_path):
    from prnet.eval.throughput import bench_end_to_end, make_jpeg_folder

    files = make_jpeg_folder(tmp_path, 8)
    r = bench_end_to_end(prn_cuda, files, workers=2, batch=4, job=2)
    assert r["images"] == r["faces"] == 8 and r["implausible"] == 0
    ref = prn_cuda.reconstruct(files[0])[0]
    for row in r["rows"]:
        np.testing.assert_allclose(row["landmarks"], ref.landmarks, atol=0.5)
        assert row["yaw"] == pytest.approx(ref.pose.yaw, abs=0.5)
