"""Write the outputs of reconstructed faces to files (the library side of ``prnet reconstruct``).

>>> from prnet import PRN                                           # doctest: +SKIP
>>> from prnet.export import ExportOptions, export_image            # doctest: +SKIP
>>> faces = PRN().reconstruct("photo.jpg")                          # doctest: +SKIP
>>> export_image(faces, "out", "photo", ExportOptions(ply=True),    # doctest: +SKIP
...              source="photo.jpg", image_shape=(480, 640))
[PosixPath('out/photo_0.obj'), ..., PosixPath('out/photo.json')]

File names (``<stem>_<face index>`` + suffix; every file is written atomically):

=============  ===============================================================================
option         files
=============  ===============================================================================
``obj``        ``_0.obj``: mesh with per-vertex colours (``v x y z r g b``)
``texture``    ``_0_tex.obj`` + ``_0_tex.mtl`` + ``_0_tex_texture.png``: mesh with the UV texture
``front``      ``_0_frontal.obj`` (and ``_0_frontal.ply`` / ``_0_frontal_tex.obj`` with
               ``ply`` / ``texture``): the face with its pose removed
``kpt``        ``_0_kpt.txt`` (``x y z`` per line) and ``_0_kpt.json`` (with visibility)
``pose``       ``_0_pose.txt`` and ``_0_pose.json``: yaw, pitch, roll (degrees), 3×4 camera
``depth``      ``_0_depth.png`` (nearer is brighter) and ``_0_depth.npy`` (float32 (H, W) z in
               pixels, 0 on the background)
``mat``        ``_0.mat``: MATLAB arrays (see :func:`face_arrays`)
``ply``        ``_0.ply``: binary PLY with per-vertex colours
``npz``        ``_0.npz``: NumPy arrays (see :func:`face_arrays`)
``viz``        ``_0_viz_landmarks.png``, ``_0_viz_dense.png``, ``_0_viz_pose.png``,
               ``_0_viz_depth.png``, ``_0_viz_mesh.png``: drawings over the image
=============  ===============================================================================

Plus one ``<stem>.json`` per image (:func:`export_image_summary`): the faces found (box,
score, 68 landmarks, their visibility, pose) and the files written; ``"faces": []`` when no
face was found.

Coordinates: landmarks, depth, ``.npz``/``.mat`` arrays and drawings are in image pixels
(x right, y down, z towards the viewer). Meshes (OBJ/PLY) are in viewer orientation: y is
flipped with the image height (``y' = H - 1 - y``) and triangles face the viewer. Frontal
meshes are in the canonical y-up frame at the canonical size (BFM units / 10⁴), not pixels.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prnet.errors import PRNetError
from prnet.io import (
    depth_to_image,
    draw_dense,
    draw_landmarks,
    draw_mesh_overlay,
    draw_pose_box,
    write_image,
    write_json,
    write_landmarks_json,
    write_landmarks_txt,
    write_mat,
    write_npz,
    write_obj,
    write_ply,
    write_pose_json,
    write_pose_txt,
)
from prnet.io._atomic import atomic_open

if TYPE_CHECKING:
    from prnet.pipeline import FaceResult

__all__ = [
    "DEFAULT_OUTPUTS",
    "OUTPUTS",
    "ExportOptions",
    "export_face",
    "export_image",
    "export_image_summary",
    "face_arrays",
    "face_summary",
    "is_exported",
]

#: Names of the per-face outputs, in the order they are written.
OUTPUTS: tuple[str, ...] = (
    "obj", "texture", "front", "kpt", "pose", "depth", "mat", "ply", "npz", "viz",
)
#: What ``prnet reconstruct`` writes when no output flag is given.
DEFAULT_OUTPUTS: tuple[str, ...] = ("kpt", "pose", "obj")

_UV_RES = 256  # resolution of the UV position map (prnet.uv.layout.RES; not imported: no torch)
_FLIP_Y = np.array([1.0, -1.0, 1.0])


@dataclass(frozen=True)
class ExportOptions:
    """Which files :func:`export_face` writes (one flag per output, see the module table).

    The defaults are those of ``prnet reconstruct`` without output flags: ``kpt``, ``pose``
    and ``obj``. Use :meth:`all` for everything or :meth:`from_names` for a selection.

    Attributes:
        obj, texture, front, kpt, pose, depth, mat, ply, npz, viz: the outputs.
        texture_size: side of the UV texture image in pixels (``texture``), 16..4096.
        mask_invisible: black out texels hidden by the face itself in the UV texture.

    Raises:
        PRNetError: ``texture_size`` out of range.
    """

    obj: bool = True
    texture: bool = False
    front: bool = False
    kpt: bool = True
    pose: bool = True
    depth: bool = False
    mat: bool = False
    ply: bool = False
    npz: bool = False
    viz: bool = False
    texture_size: int = _UV_RES
    mask_invisible: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.texture_size, bool) or not isinstance(self.texture_size, (int, np.integer)):
            raise PRNetError(f"texture_size must be an integer, got {self.texture_size!r}")
        if not 16 <= int(self.texture_size) <= 4096:
            raise PRNetError(f"texture_size must lie in [16, 4096], got {self.texture_size}")

    @classmethod
    def from_names(cls, names: Iterable[str], **kwargs: Any) -> ExportOptions:
        """Options with exactly the outputs ``names`` (e.g. ``["ply", "kpt"]``) switched on.

        Raises:
            PRNetError: an unknown output name (the message lists the valid ones).
        """
        chosen = set(names)
        unknown = sorted(chosen - set(OUTPUTS))
        if unknown:
            raise PRNetError(f"unknown outputs {unknown}; valid: {', '.join(OUTPUTS)}")
        return cls(**{n: n in chosen for n in OUTPUTS}, **kwargs)

    @classmethod
    def all(cls, **kwargs: Any) -> ExportOptions:
        """Every output switched on."""
        return cls.from_names(OUTPUTS, **kwargs)

    @property
    def names(self) -> list[str]:
        """The outputs switched on, in :data:`OUTPUTS` order."""
        return [n for n in OUTPUTS if getattr(self, n)]

    def to_json(self) -> dict[str, Any]:
        """``{"outputs": names, "texture_size", "mask_invisible"}``, as recorded in ``<stem>.json``."""
        return {"outputs": self.names, "texture_size": int(self.texture_size),
                "mask_invisible": bool(self.mask_invisible)}


# --------------------------------------------------------------------------- arrays


def face_arrays(face: FaceResult) -> dict[str, np.ndarray]:
    """Every array of a face, as stored in the ``.npz`` and ``.mat`` files.

    Image-pixel coordinates (y down), triangles 0-based:

    ``vertices`` (N, 3) float32, ``colors`` (N, 3) float32 in [0, 1], ``triangles`` (M, 3)
    int32, ``uv`` (N, 2) texel (u, v) in the 256×256 UV map, ``visibility`` (N,) bool,
    ``landmarks`` (68, 3), ``landmark_visibility`` (68,) bool, ``pose`` (3,) yaw, pitch,
    roll in degrees, ``camera_matrix`` (3, 4) (canonical y-up → y-up image frame, see
    :class:`prnet.geometry.pose.Pose`), ``frontal_vertices`` (N, 3) canonical y-up frame,
    ``box`` (4,), ``score`` (), ``crop_matrix`` (2, 3) image → 256² crop, ``posmap`` (256,
    256, 3) float32 UV position map, ``image_size`` (2,) height, width.
    """
    p = face.pose
    h, w = face.image_shape
    return {
        "vertices": np.asarray(face.vertices, np.float32),
        "colors": np.asarray(face.colors, np.float32),
        "triangles": np.asarray(face.triangles, np.int32),
        "uv": np.asarray(face.uv, np.float32),
        "visibility": np.asarray(face.visibility, bool),
        "landmarks": np.asarray(face.landmarks, np.float32),
        "landmark_visibility": np.asarray(face.landmark_visibility, bool),
        "pose": np.array([p.yaw, p.pitch, p.roll], np.float64),
        "camera_matrix": np.asarray(p.camera_matrix, np.float64),
        "frontal_vertices": np.asarray(face.frontal_vertices, np.float32),
        "box": np.asarray(face.box, np.float32),
        "score": np.float32(face.score),
        "crop_matrix": np.asarray(face.crop_matrix, np.float64),
        "posmap": np.asarray(face.posmap, np.float32),
        "image_size": np.array([h, w], np.int64),
    }


def face_summary(face: FaceResult) -> dict[str, Any]:
    """JSON-ready description of one face (what ``<stem>.json`` lists for it).

    ``{"index", "box", "score", "landmarks" (68 × [x, y, z], 0.01 px), "landmark_visibility"
    (68 bools), "visible_fraction" (of the dense vertices), "pose": {"yaw", "pitch", "roll",
    "units": "degrees", "camera_matrix"}}``.
    """
    d = face.to_dict()
    pose = dict(d.get("pose", {}))
    pose.setdefault("units", "degrees")
    return {
        "index": int(face.index),
        "box": d["box"],
        "score": d["score"],
        "landmarks": d["landmarks"],
        "landmark_visibility": np.asarray(face.landmark_visibility, bool).tolist(),
        "visible_fraction": round(float(np.mean(face.visibility)), 4),
        "pose": pose,
    }


# --------------------------------------------------------------------------- files


def _write_npy(path: Path, array: np.ndarray) -> Path:
    with atomic_open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
    return path


def _textured_obj(path: Path, vertices: np.ndarray, face: FaceResult, uv: np.ndarray,
                  texture: np.ndarray, **kw: Any) -> list[Path]:
    obj = write_obj(path, vertices, face.triangles, uv=uv, texture=texture, **kw)
    return [obj, obj.with_name(f"{obj.stem}.mtl"), obj.with_name(f"{obj.stem}_texture.png")]


def _pose_box(face: FaceResult) -> np.ndarray:
    """The pose box drawing: the y-up camera turned into an image (y-down) camera."""
    cam = _FLIP_Y[:, None] * np.asarray(face.pose.camera_matrix)
    size = 0.5 * float(np.ptp(face.layout.canonical_kpt[:, 0]))
    centre = np.asarray(face.landmarks)[:27, :2].mean(0)
    return draw_pose_box(face.image, cam, center=centre, size=size)


def export_face(face: FaceResult, out_dir: str | os.PathLike, stem: str,
                options: ExportOptions | None = None) -> list[Path]:
    """Write the outputs of one face selected by ``options`` (default :class:`ExportOptions`).

    Files are named ``<out_dir>/<stem>_<face.index><suffix>`` (module table); ``out_dir`` is
    created when missing. Every file is written atomically (a crash leaves no partial file,
    and earlier files stay).

    Args:
        face: a :class:`prnet.pipeline.FaceResult`.
        out_dir: destination folder.
        stem: file-name stem, usually the image's (``photo`` → ``photo_0.obj``).
        options: the outputs to write.

    Returns:
        The paths written, in writing order.

    Raises:
        PRNetError: an empty ``stem``. OSError: a file cannot be written.
    """
    opts = options if options is not None else ExportOptions()
    if not stem or os.sep in stem or (os.altsep and os.altsep in stem):
        raise PRNetError(f"stem must be a non-empty file name without a folder, got {stem!r}")
    base = Path(out_dir) / f"{stem}_{face.index}"
    h = face.image_shape[0]
    out: list[Path] = []

    def name(suffix: str) -> Path:
        return base.with_name(base.name + suffix)

    tex = uv = None
    if opts.texture:
        size = int(opts.texture_size)
        tex = face.uv_texture(size, mask_invisible=opts.mask_invisible)
        # texel (u, v) of the 256² map → pixel of the size² texture (pixel centres at integers)
        uv = (np.asarray(face.uv, np.float64) + 0.5) * (size / _UV_RES) - 0.5
    if opts.obj:
        out.append(write_obj(name(".obj"), face.vertices, face.triangles, colors=face.colors,
                             image_height=h))
    if opts.texture:
        out += _textured_obj(name("_tex.obj"), face.vertices, face, uv, tex, image_height=h)
    if opts.front:
        fv = face.frontal_vertices
        if opts.obj or not (opts.ply or opts.texture):
            out.append(write_obj(name("_frontal.obj"), fv, face.triangles, colors=face.colors,
                                 flip_y=False))
        if opts.ply:
            out.append(write_ply(name("_frontal.ply"), fv, face.triangles, colors=face.colors,
                                 flip_y=False))
        if opts.texture:
            out += _textured_obj(name("_frontal_tex.obj"), fv, face, uv, tex, flip_y=False)
    if opts.kpt:
        out.append(write_landmarks_txt(name("_kpt.txt"), face.landmarks))
        out.append(write_landmarks_json(name("_kpt.json"), face.landmarks,
                                        visible=face.landmark_visibility))
    if opts.pose:
        p = face.pose
        angles = (p.yaw, p.pitch, p.roll)
        out.append(write_pose_txt(name("_pose.txt"), angles, p.camera_matrix))
        out.append(write_pose_json(name("_pose.json"), angles, p.camera_matrix))
    depth = None
    if opts.depth or opts.viz:
        depth = face.depth(normalize=False)
    if opts.depth:
        out.append(write_image(name("_depth.png"), depth_to_image(depth)))
        out.append(_write_npy(name("_depth.npy"), depth.astype(np.float32)))
    if opts.mat or opts.npz:
        arrays = face_arrays(face)
        if opts.mat:
            out.append(write_mat(name(".mat"), arrays))
    if opts.ply:
        out.append(write_ply(name(".ply"), face.vertices, face.triangles, colors=face.colors,
                             image_height=h))
    if opts.npz:
        out.append(write_npz(name(".npz"), **arrays))
    if opts.viz:
        img = face.image
        out.append(write_image(name("_viz_landmarks.png"),
                               draw_landmarks(img, face.landmarks, face.landmark_visibility)))
        out.append(write_image(name("_viz_dense.png"), draw_dense(img, face.vertices)))
        out.append(write_image(name("_viz_pose.png"), _pose_box(face)))
        out.append(write_image(name("_viz_depth.png"), depth_to_image(depth)))
        out.append(write_image(name("_viz_mesh.png"),
                               draw_mesh_overlay(img, face.vertices, face.triangles)))
    return out


def _relative(paths: Iterable[Path], folder: Path) -> list[str]:
    return [os.path.relpath(p, folder).replace(os.sep, "/") for p in paths]


def export_image_summary(
    faces: Sequence[FaceResult],
    out_dir: str | os.PathLike,
    stem: str,
    *,
    source: str | os.PathLike | None = None,
    image_shape: tuple[int, int] | None = None,
    files: Sequence[Sequence[Path]] | None = None,
    options: ExportOptions | None = None,
) -> Path:
    """Write ``<out_dir>/<stem>.json``: the image, its faces and the files written for them.

    ``{"prnet_version", "image": source, "width", "height", "faces": [face_summary + "files"],
    "files": [...], "options": ExportOptions.to_json()}``; file names are relative to
    ``out_dir`` (``/`` separated). ``faces`` is ``[]`` for an image without a face (the file is
    still written). ``options`` is null when not given.

    Args:
        faces: the image's faces (may be empty).
        out_dir: destination folder (created when missing).
        stem: the JSON is ``<stem>.json``.
        source: the input image's path, recorded as given.
        image_shape: (height, width); taken from the faces when omitted.
        files: per face, the paths :func:`export_face` wrote (same order as ``faces``).
        options: the export options the files were written with.

    Returns:
        The path of the JSON file.

    Raises:
        PRNetError: ``files`` does not have one entry per face.
    """
    folder = Path(out_dir)
    if files is None:
        files = [[] for _ in faces]
    if len(files) != len(faces):
        raise PRNetError(f"files: expected one list per face ({len(faces)}), got {len(files)}")
    if image_shape is None and faces:
        image_shape = faces[0].image_shape
    from prnet import __version__

    entries = []
    all_files: list[str] = []
    for face, written in zip(faces, files, strict=True):
        rel = _relative(written, folder)
        entries.append({**face_summary(face), "files": rel})
        all_files += rel
    obj = {
        "prnet_version": __version__,
        "image": None if source is None else os.fspath(source),
        "height": None if image_shape is None else int(image_shape[0]),
        "width": None if image_shape is None else int(image_shape[1]),
        "faces": entries,
        "files": all_files,
        "options": None if options is None else options.to_json(),
    }
    return write_json(folder / f"{stem}.json", obj)


def export_image(
    faces: Sequence[FaceResult],
    out_dir: str | os.PathLike,
    stem: str,
    options: ExportOptions | None = None,
    *,
    source: str | os.PathLike | None = None,
    image_shape: tuple[int, int] | None = None,
) -> list[Path]:
    """Every output for one image: :func:`export_face` for each face, then the summary JSON.

    Returns:
        All paths written, the ``<stem>.json`` summary last.

    Raises:
        As :func:`export_face` and :func:`export_image_summary`.
    """
    per_face = [export_face(f, out_dir, stem, options) for f in faces]
    summary = export_image_summary(faces, out_dir, stem, source=source,
                                   image_shape=image_shape, files=per_face,
                                   options=options or ExportOptions())
    return [p for ps in per_face for p in ps] + [summary]


def is_exported(out_dir: str | os.PathLike, stem: str, options: ExportOptions | None = None) -> bool:
    """Whether an earlier :func:`export_image` finished ``stem`` in ``out_dir`` with the same
    ``options``: its ``<stem>.json`` (written last) reads, records these options, and every file
    it lists exists. Used by ``prnet reconstruct --skip-existing`` to resume a run."""
    import json

    folder = Path(out_dir)
    try:
        obj = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
        return (obj.get("options") == (options or ExportOptions()).to_json()
                and all((folder / f).is_file() for f in obj["files"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
