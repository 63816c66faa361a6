"""The network's input built on the device (the GPU path): images to a padded batch (pinned
host memory, asynchronous copies), JPEG decoding on the GPU (nvJPEG) and the crops by a batched
``grid_sample``.

:func:`crop_faces_torch` is :func:`prnet.pipeline.posmaps.crop_faces`'s warp (``cv2.warpAffine``,
bilinear, zeros outside the image) for many faces at once; rounded to grey levels it differs
from OpenCV's fixed-point warp by well under one level on average
(``tests/pipeline/test_device_input.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from prnet.errors import PRNetError
from prnet.geometry.crop import CROP

__all__ = ["crop_faces_torch", "decode_jpegs", "has_nvjpeg", "image_batch", "nvjpeg_problem",
           "pad_images"]


@lru_cache(maxsize=1)
def nvjpeg_problem() -> str | None:
    """Why JPEGs cannot be decoded on the GPU here (None when they can): torchvision with
    ``decode_jpeg(..., device="cuda")`` and a CUDA device are needed."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    try:
        from torchvision.io import decode_jpeg  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - a broken torchvision raises RuntimeError too
        return (f"torchvision is not usable ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                'pip install "prnet[gpu]" (a torchvision built for this torch)')
    return None


def has_nvjpeg() -> bool:
    """True when :func:`decode_jpegs` can decode on the GPU."""
    return nvjpeg_problem() is None


def decode_jpegs(datas: Sequence[bytes], device: str | torch.device = "cuda") -> list[torch.Tensor]:
    """Encoded JPEGs → (3, H, W) uint8 RGB tensors on ``device``, decoded there in one batch
    (``torchvision.io.decode_jpeg``: nvJPEG; EXIF orientation is not applied).

    Raises:
        PRNetError: no GPU decoding here (one line naming what is missing), or a file that
            nvJPEG cannot decode.
    """
    problem = nvjpeg_problem()
    if problem:
        raise PRNetError(f"GPU JPEG decoding unavailable: {problem}")
    from torchvision.io import ImageReadMode, decode_jpeg

    tensors = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in datas]
    try:
        return list(decode_jpeg(tensors, mode=ImageReadMode.RGB, device=device))
    except RuntimeError as exc:
        raise PRNetError(f"GPU JPEG decoding failed: {str(exc).splitlines()[0]}") from None


def image_batch(images: Sequence[np.ndarray], device: str | torch.device = "cpu",
                pin: bool | None = None) -> torch.Tensor:
    """(H, W, 3) uint8 RGB images → one (B, 3, Hmax, Wmax) uint8 tensor on ``device``, each
    image at the top-left of a zero canvas (outside an image the crop reads zeros either way).

    The batch is assembled in pinned host memory when ``pin`` (default: when ``device`` is CUDA)
    and copied without blocking the host, so the copy overlaps the work queued before it.
    """
    device = torch.device(device)
    pin = device.type == "cuda" if pin is None else pin
    h = max((im.shape[0] for im in images), default=1)
    w = max((im.shape[1] for im in images), default=1)
    host = torch.empty((len(images), h, w, 3), dtype=torch.uint8, pin_memory=pin)
    for i, im in enumerate(images):
        ih, iw = im.shape[:2]
        host[i, :ih, :iw] = torch.from_numpy(np.ascontiguousarray(im))
        host[i, ih:] = 0
        host[i, :ih, iw:] = 0
    return host.to(device, non_blocking=pin).permute(0, 3, 1, 2)


def pad_images(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """(3, H, W) uint8 tensors (e.g. from :func:`decode_jpegs`) → (B, 3, Hmax, Wmax), each at
    the top-left of a zero canvas."""
    h = max(im.shape[1] for im in images)
    w = max(im.shape[2] for im in images)
    return torch.stack([F.pad(im, (0, w - im.shape[2], 0, h - im.shape[1])) for im in images])


def crop_faces_torch(images: torch.Tensor, matrices: torch.Tensor | np.ndarray,
                     image_index: torch.Tensor | Sequence[int] | None = None,
                     out: int = CROP, round_levels: bool = True) -> torch.Tensor:
    """The 256×256 crop of each face by a batched ``grid_sample`` (bilinear, zeros outside).

    Args:
        images: (B, C, H, W) images (uint8 or float, grey levels 0-255), e.g. from
            :func:`image_batch` (a zero-padded canvas reads as outside the image, as it should).
        matrices: (F, 2, 3) image → crop similarities (``FacePlan.crop_matrix``; a CropBatch's
            ``matrices``).
        image_index: (F,) the image of each face (default: face i in image i).
        round_levels: round to whole grey levels, as the uint8 crops of the NumPy path.

    Returns:
        (F, C, out, out) float32 grey levels 0-255 (divide by 255 for the network).
    """
    device = images.device
    mats = torch.as_tensor(np.asarray(matrices) if isinstance(matrices, np.ndarray) else matrices,
                           dtype=torch.float64, device=device)
    n = len(mats)
    idx = (torch.arange(n, device=device) if image_index is None
           else torch.as_tensor(image_index, dtype=torch.long, device=device))
    _, c, h, w = images.shape
    if n == 0:
        return torch.zeros((0, c, out, out), dtype=torch.float32, device=device)
    # crop pixel (x, y) reads image pixel Mi @ (x, y, 1); grid_sample wants it in [-1, 1]
    # (align_corners: -1 and 1 are the centres of the first and last pixels).
    a = mats[:, :, :2]
    inv_a = torch.linalg.inv(a)
    inv = torch.cat([inv_a, -(inv_a @ mats[:, :, 2:])], 2)
    to_norm = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], dtype=torch.float64,
                           device=device)
    from_norm = (out - 1) / 2.0
    theta = inv * to_norm[None, :, None]
    theta[:, :, 2] += from_norm * theta[:, :, :2].sum(2) - 1.0
    theta[:, :, :2] *= from_norm
    grid = F.affine_grid(theta.float(), [n, c, out, out], align_corners=True)
    src = images.index_select(0, idx).float()
    crops = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return crops.round_().clamp_(0, 255) if round_levels else crops
