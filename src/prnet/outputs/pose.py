"""``pose``: ``<base>_pose.txt`` and ``<base>_pose.json``, yaw, pitch, roll (degrees) and the
3×4 camera (:class:`prnet.geometry.pose.Pose`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prnet.io import write_pose_json, write_pose_txt
from prnet.outputs._files import named

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult


def write(face: FaceResult, base: Path, options: ExportOptions) -> list[Path]:
    """Write ``<base>_pose.txt`` and ``<base>_pose.json``."""
    p = face.pose
    angles = (p.yaw, p.pitch, p.roll)
    return [write_pose_txt(named(base, "_pose.txt"), angles, p.camera_matrix),
            write_pose_json(named(base, "_pose.json"), angles, p.camera_matrix)]
