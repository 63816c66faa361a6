"""The position-map stage: crops → network → image-space UV position maps, with every
test-time augmentation (TTA) mode.

* :func:`crop_faces` warps each face's crop (and, for ``tta="shift"``, four shifted copies).
* :class:`PosmapNetwork` runs the network on batches of crops (flip TTA averages each crop's
  map with the mirrored map of its mirror image).
* :func:`uncrop_maps` maps crop-space points back to the image and averages the views of a face.

This is the only place where network output is mapped back to the image on the host;
:mod:`prnet.pipeline.device_post` mirrors :func:`uncrop_maps` in torch for the GPU path (tested
to give the same numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from prnet.errors import InputShapeError
from prnet.geometry.crop import CROP, shift_crop, uncrop_points, warp_crop
from prnet.models.precision import autocast
from prnet.uv.layout import UVLayout

#: ``tta="shift"`` moves the crop window by this fraction of its side left, right, up and down.
TTA_SHIFT = 0.04


def tta_offsets(tta: str) -> np.ndarray:
    """(V, 2) crop-window shifts in crop pixels: the centre alone, or the centre and 4 neighbours."""
    if tta != "shift":
        return np.zeros((1, 2))
    return TTA_SHIFT * (CROP - 1) * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], np.float64)


@dataclass(frozen=True, eq=False)
class CropBatch:
    """The network input for some faces: ``views`` crops per face, face-major.

    Attributes:
        crops: (F·V, 256, 256, 3) uint8 RGB.
        matrices: (F·V, 2, 3) image → crop similarity of each crop.
        views: crops per face (1, or 5 with ``tta="shift"``).
    """

    crops: np.ndarray
    matrices: np.ndarray
    views: int

    @property
    def faces(self) -> int:
        return len(self.matrices) // self.views


def crop_faces(image: np.ndarray, matrices: Sequence[np.ndarray], tta: str = "off") -> CropBatch:
    """Warp ``image`` to the crop of each matrix (with the shifted views of ``tta="shift"``)."""
    offsets = tta_offsets(tta)
    shifted = [shift_crop(m, o) for m in matrices for o in offsets]
    crops = (np.stack([warp_crop(image, m) for m in shifted]) if shifted
             else np.zeros((0, CROP, CROP, 3), np.uint8))
    return CropBatch(crops, np.asarray(shifted, np.float64).reshape(-1, 2, 3), len(offsets))


def concat_batches(batches: Sequence[CropBatch]) -> CropBatch:
    """One batch of the crops of several images (all with the same number of views)."""
    views = {b.views for b in batches}
    if len(views) > 1:
        raise ValueError(f"crop batches with different views per face: {sorted(views)}")
    return CropBatch(np.concatenate([b.crops for b in batches]),
                     np.concatenate([b.matrices for b in batches]), views.pop() if views else 1)


def uncrop_maps(maps: np.ndarray, matrices: np.ndarray, views: int = 1) -> np.ndarray:
    """(K, …, 3) crop-space points → image space (x, y by the inverse similarity, z divided by
    its scale), averaged over each face's ``views`` consecutive crops: (K / views, …, 3) float32."""
    if len(maps) == 0:
        return np.zeros((0, *np.shape(maps)[1:]), np.float32)
    pts = np.empty(np.shape(maps), np.float32)
    for k, (p, m) in enumerate(zip(maps, matrices, strict=True)):
        pts[k] = uncrop_points(p, m)
    if views == 1:
        return pts
    return pts.reshape(len(pts) // views, views, *pts.shape[1:]).mean(1)


def network_input(crops: torch.Tensor) -> torch.Tensor:
    """(B, 256, 256, 3) uint8 RGB crops → the network's (B, 3, 256, 256) float input in [0, 1]
    (channels-last memory)."""
    return crops.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=torch.channels_last)


class PosmapNetwork:
    """A position-map network on a device: batches of crops → crop-space position maps.

    Args:
        net: the network (eval mode).
        device: torch device name.
        precision: "fp32", "bf16" or "fp16" (autocast; see :mod:`prnet.models.precision`).
        batch_size: crops per forward pass.
        flip: average each map with the mirrored map of the mirrored crop (flip TTA).
        layout: the UV layout (its symmetry map mirrors position maps).
    """

    def __init__(self, net: torch.nn.Module, device: str, precision: str, batch_size: int,
                 flip: bool, layout: UVLayout) -> None:
        self.net, self.device, self.precision = net, device, precision
        self.batch_size, self.flip, self.layout = batch_size, flip, layout

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """(B, 256, 256, 3) uint8 RGB crops → (B, 256, 256, 3) float32 maps in crop pixels.

        Raises:
            InputShapeError: crops of another shape.
        """
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (CROP, CROP, 3):
            raise InputShapeError(f"crops must be (B, 256, 256, 3) uint8, got {crops.shape}")
        out = []
        for i in range(0, len(crops), self.batch_size):
            x = self.input(crops[i : i + self.batch_size])
            pm = self.forward(x)
            if self.flip:
                pm = (pm + self.layout.mirror_posmap(self.forward(self.mirrored(x)), CROP)) / 2
            out.append(pm)
        return np.concatenate(out) if out else np.zeros((0, CROP, CROP, 3), np.float32)

    def input(self, crops: np.ndarray) -> Any:
        """(B, 256, 256, 3) uint8 RGB crops → what :meth:`forward` takes: here
        :func:`network_input` on the device."""
        return network_input(torch.from_numpy(np.ascontiguousarray(crops)).to(self.device))

    @staticmethod
    def mirrored(x: Any) -> Any:
        """:meth:`input`'s output of the left-right mirrored crops."""
        return x.flip(3)

    def forward(self, x: torch.Tensor) -> np.ndarray:
        """One forward pass of a (B, 3, 256, 256) input → (B, 256, 256, 3) float32 maps."""
        return self.forward_tensor(x).cpu().numpy()

    @torch.inference_mode()
    def forward_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` leaving the (B, 256, 256, 3) float32 maps on the device (the GPU
        path: :class:`prnet.pipeline.device_post.DevicePost` takes them from there)."""
        with autocast(self.device, self.precision):
            y = self.net(x)
        return y.float().permute(0, 2, 3, 1)
