"""The device-side input stage: ``grid_sample`` crops match the NumPy path's ``cv2.warpAffine``
crops (measured mean difference about 1e-4 grey levels on the bundled photo), padded batches of
images of different sizes crop as each image alone, and GPU decoding without a GPU is one clear
error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prnet.errors import PRNetError
from prnet.geometry.crop import crop_matrix
from prnet.io import read_image
from prnet.pipeline.device_input import crop_faces_torch, decode_jpegs, image_batch, pad_images
from prnet.pipeline.posmaps import crop_faces

MEAN_GREY = 1.0  # asked for; measured ~1e-4


@pytest.fixture(scope="module")
def astro(sample_image_path):
    return read_image(sample_image_path)


def hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(0, 2, 3, 1).numpy()


def test_grid_sample_crops_match_warp_affine(prn, astro):
    mats = [p.crop_matrix for p in prn.plan(prn.detect(astro))]
    h, w = astro.shape[:2]
    mats += [crop_matrix((w * 0.9, h * 0.1), 300.0, angle_deg=25.0),   # partly outside
             crop_matrix((w / 2, h / 2), 90.0, angle_deg=-60.0),        # zoomed in, rotated
             crop_matrix((w / 2, h / 2), 2.5 * w)]                      # zoomed out
    batch = crop_faces(astro, mats, "shift")
    got = crop_faces_torch(image_batch([astro]), batch.matrices, [0] * len(batch.matrices))
    assert got.shape == (len(batch.matrices), 3, 256, 256) and got.dtype == torch.float32
    diff = np.abs(hwc(got) - batch.crops.astype(np.float32))
    assert diff.mean() < MEAN_GREY, diff.mean()
    assert np.quantile(diff, 0.999) <= 1.0
    assert (hwc(got) == np.round(hwc(got))).all()  # whole grey levels, as uint8 crops


def test_padded_batch_crops_as_each_image_alone(astro):
    small = np.ascontiguousarray(astro[40:300, 60:420])
    tall = np.ascontiguousarray(np.concatenate([astro, astro[::-1]], 0)[:, :300])
    images = [small, astro, tall]
    mats = np.stack([crop_matrix((im.shape[1] / 2, im.shape[0] / 2), 0.8 * max(im.shape[:2]))
                     for im in images])
    x = image_batch(images, pin=False)
    assert x.shape == (3, 3, tall.shape[0], astro.shape[1]) and x.dtype == torch.uint8
    together = crop_faces_torch(x, mats, [0, 1, 2], round_levels=False)
    for i, im in enumerate(images):
        alone = crop_faces_torch(image_batch([im]), mats[i : i + 1], round_levels=False)
        # the same sample points, normalised by another canvas size in float32
        np.testing.assert_allclose(together[i].numpy(), alone[0].numpy(), rtol=0, atol=0.02)
    tensors = [torch.from_numpy(im).permute(2, 0, 1) for im in images]
    assert torch.equal(pad_images(tensors), x)


def test_several_faces_per_image_and_none(astro):
    m = crop_matrix((256, 256), 300.0)
    x = image_batch([astro, astro[::-1].copy()])
    got = crop_faces_torch(x, np.stack([m, m, m]), [1, 0, 1])
    assert torch.equal(got[0], got[2]) and not torch.equal(got[0], got[1])
    assert crop_faces_torch(x, np.zeros((0, 2, 3)), []).shape == (0, 3, 256, 256)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a GPU")
def test_gpu_decoding_without_gpu_is_one_line(sample_image_path):
    with pytest.raises(PRNetError, match=r"^GPU JPEG decoding unavailable: no CUDA device$"):
        decode_jpegs([sample_image_path.read_bytes()])
