"""Input/output: robust image reading, mesh/landmark/pose exports, drawing.

One module per format: :mod:`~prnet.io.image`, :mod:`~prnet.io.obj`, :mod:`~prnet.io.ply`,
:mod:`~prnet.io.arrays` (npz/mat), :mod:`~prnet.io.text` (txt/json), :mod:`~prnet.io.viz`.
All writers are atomic (temporary file + rename) and create missing parent folders.
"""

from prnet.io.arrays import read_npz, write_mat, write_npz
from prnet.io.image import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageListing,
    list_images,
    read_image,
    to_rgb_uint8,
    write_image,
)
from prnet.io.obj import ObjMesh, read_obj, write_obj
from prnet.io.ply import PlyMesh, read_ply, write_ply
from prnet.io.text import (
    read_landmarks_json,
    read_landmarks_txt,
    read_pose_json,
    read_pose_txt,
    write_json,
    write_landmarks_json,
    write_landmarks_txt,
    write_pose_json,
    write_pose_txt,
)
from prnet.io.viz import (
    depth_to_image,
    draw_dense,
    draw_landmarks,
    draw_mesh_overlay,
    draw_pose_box,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageListing",
    "ObjMesh",
    "PlyMesh",
    "depth_to_image",
    "draw_dense",
    "draw_landmarks",
    "draw_mesh_overlay",
    "draw_pose_box",
    "list_images",
    "read_image",
    "read_landmarks_json",
    "read_landmarks_txt",
    "read_npz",
    "read_obj",
    "read_ply",
    "read_pose_json",
    "read_pose_txt",
    "to_rgb_uint8",
    "write_image",
    "write_json",
    "write_landmarks_json",
    "write_landmarks_txt",
    "write_mat",
    "write_npz",
    "write_obj",
    "write_ply",
    "write_pose_json",
    "write_pose_txt",
]
