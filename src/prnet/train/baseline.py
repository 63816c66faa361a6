"""The 3DDFA_V2 teacher as an AFLW2000-3D baseline (``prnet eval aflw2000 --baseline teacher``).

It lives with the teacher in :mod:`prnet.train` (train may import eval, never the reverse); the
CLI builds it and hands it to :func:`prnet.eval.protocol.evaluate_aflw2000` as one more predictor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prnet.bfm import BFM
from prnet.eval.aflw2000 import AFLWSample
from prnet.eval.protocol import Prediction
from prnet.geometry.pose import estimate_pose
from prnet.pipeline.posmaps import uncrop_maps
from prnet.train.labels import crop_vertices, run_teacher, teacher_crop
from prnet.train.teacher import TeacherNet, load_teacher
from prnet.uv.layout import UVLayout, load_layout


class TeacherPredictor:
    """The 3DDFA_V2 teacher (:mod:`prnet.train.teacher`) as a baseline predictor.

    Crop: ``teacher_roi(pt3d_68, 1.5)`` resized to 120² (``roi_matrix``) — always from the
    ground-truth landmarks. Landmarks: the BFM keypoints of its fit mapped back to the image
    (x, y by the inverse roi transform, z divided by its scale); dense vertices: its full
    mesh rendered into our UV layout, so both methods are scored on the same texels.
    """

    def __init__(self, net: TeacherNet, bfm: BFM, layout: UVLayout | None = None) -> None:
        self.net = net
        self.bfm = bfm
        self.layout = layout or load_layout()

    def __call__(self, image: np.ndarray, sample: AFLWSample) -> Prediction | None:
        crop, m = teacher_crop(image, sample.pt3d_68)
        params = run_teacher(self.net, crop[None])
        mesh = uncrop_maps(crop_vertices(self.bfm, params), m[None])[0].astype(np.float64)
        verts = self.layout.vertices(self.layout.posmap_from_mesh(mesh))
        pose = estimate_pose(verts, self.layout.canonical)
        return Prediction(mesh[self.bfm.keypoints], verts, pose.angles_deg)


def teacher_baseline(teacher_dir: str | Path, bfm: BFM, layout: UVLayout | None = None) -> TeacherPredictor:
    """Load the teacher from ``teacher_dir`` (``weights/mb05_120x120.pth`` + ``configs/...pkl``).

    Raises:
        AssetMissingError: the folder lacks the teacher's files.
    """
    return TeacherPredictor(load_teacher(teacher_dir), bfm, layout)
