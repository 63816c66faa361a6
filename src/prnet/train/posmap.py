"""Ground-truth position maps on the GPU: each texel is a fixed barycentric mix of 3 BFM vertices,
so a batch of maps is a basis product plus one gather (replaces PRNet's generate_posmap_300WLP).

Only texels with a non-zero training weight are rendered (the rest of the map is 0 and carries
no loss), which keeps the BFM rows to carry small.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

from prnet.bfm import BFM
from prnet.train.labels import Y_FLIP
from prnet.uv.layout import RES, UVLayout


def renderer_arrays(bfm: BFM, layout: UVLayout) -> dict[str, np.ndarray]:
    """The arrays :class:`PosmapRenderer` needs: BFM rows of the used vertices + texel tables."""
    mask = (layout.weight_mask > 0) & layout.texel_valid
    texel_index = np.flatnonzero(mask.ravel())
    vid = layout.texel_vid.reshape(-1, 3)[texel_index]
    used = np.unique(np.concatenate([vid.ravel(), bfm.keypoints]))
    sub = bfm.subset(used)
    # mirror of each rendered texel, as an index into the rendered texels
    uv = np.stack([texel_index % RES, texel_index // RES], 1)
    sym = layout.sym_texel.reshape(-1, 2)[texel_index]
    _, sym_local = cKDTree(uv).query(sym)
    return {
        "mean": sub.mean.astype(np.float32),
        "basis": np.concatenate([sub.shape_basis, sub.exp_basis], 2).astype(np.float16),  # (V, 3, 50)
        "kpt_ids": np.searchsorted(used, bfm.keypoints).astype(np.int32),
        "texel_index": texel_index.astype(np.int32),
        "texel_ids": np.searchsorted(used, vid).astype(np.int32),
        "texel_bary": layout.texel_bary.reshape(-1, 3)[texel_index].astype(np.float32),
        "face": layout.face_mask.ravel()[texel_index],
        "sym": sym_local.astype(np.int32),
    }


class PosmapRenderer(nn.Module):
    """(B, 62) 3DMM parameters (teacher camera convention, 120-px crop) + (B, 2, 3) crop→net affine
    → (B, 3, 256, 256) position maps in network-input pixels (z centred on 128 over the face)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        super().__init__()
        for k, v in arrays.items():
            v = torch.as_tensor(v)
            if v.dtype == torch.float16:
                v = v.float()
            elif v.dtype == torch.int32:
                v = v.long()
            self.register_buffer(k, v)

    def _camera(self, params: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        """Vertices (all used, or ``ids``) in 120-crop pixels (x, y down, z)."""
        B = params.shape[0]
        P = params[:, :12].reshape(B, 3, 4).float()
        mean, basis = (self.mean, self.basis) if ids is None else (self.mean[ids], self.basis[ids])
        V = mean + torch.einsum("vck,bk->bvc", basis, params[:, 12:62].float())
        X = torch.einsum("bij,bvj->bvi", P[:, :, :3], V) + P[:, None, :, 3]
        return torch.stack([X[..., 0] - 1, Y_FLIP - X[..., 1], X[..., 2] - 1], -1)

    def landmarks(self, params: torch.Tensor) -> torch.Tensor:
        """(B, 62) → (B, 68, 3) landmarks in 120-crop pixels."""
        return self._camera(params, self.kpt_ids)

    def forward(self, params: torch.Tensor, affine: torch.Tensor, flip: torch.Tensor | None = None) -> torch.Tensor:
        B = params.shape[0]
        X = self._camera(params)
        s = torch.sqrt(torch.abs(torch.linalg.det(affine[:, :, :2])))
        xy = torch.einsum("bij,bvj->bvi", affine[:, :, :2], X[..., :2]) + affine[:, None, :, 2]
        Xn = torch.cat([xy, X[..., 2:] * s[:, None, None]], -1)
        pos = (Xn[:, self.texel_ids] * self.texel_bary[None, :, :, None]).sum(2)  # (B, T, 3)
        zc = pos[:, self.face, 2].mean(1, keepdim=True)
        pos = torch.cat([pos[..., :2], pos[..., 2:] - zc[..., None] + 128], -1)
        if flip is not None:
            mirrored = pos[:, self.sym]
            mirrored = torch.cat([RES - 1 - mirrored[..., :1], mirrored[..., 1:]], -1)
            pos = torch.where(flip[:, None, None], mirrored, pos)
        full = pos.new_zeros(B, RES * RES, 3)
        full[:, self.texel_index] = pos
        return full.reshape(B, RES, RES, 3).permute(0, 3, 1, 2).contiguous()
