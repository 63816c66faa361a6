"""Write a face's or an image's outputs: every registered output the options switch on, in
registry order, then the image's ``<stem>.json`` record."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prnet.errors import PRNetError
from prnet.io import write_json
from prnet.outputs.encode import write_jpeg
from prnet.outputs.options import ExportOptions
from prnet.outputs.regions import combined_drawing
from prnet.outputs.registry import registered
from prnet.outputs.schema import face_record, image_record
from prnet.validation import check_finite

if TYPE_CHECKING:
    from prnet.pipeline import FaceResult

__all__ = ["check_faces", "export_face", "export_image", "export_image_summary", "face_summary", "is_exported"]


def export_face(face: FaceResult, out_dir: str | os.PathLike, stem: str,
                options: ExportOptions | None = None) -> list[Path]:
    """Write the outputs of one face selected by ``options`` (default :class:`ExportOptions`).

    Files are named ``<out_dir>/<stem>_<face.index><suffix>`` (see the registry); ``out_dir``
    is created when missing. Every file is written atomically (a crash leaves no partial
    file, and earlier files stay).

    Args:
        face: a :class:`prnet.pipeline.FaceResult`.
        out_dir: destination folder.
        stem: file-name stem, usually the image's (``photo`` → ``photo_0.obj``).
        options: the outputs to write.

    Returns:
        The paths written, in writing order.

    Raises:
        PRNetError: an empty ``stem`` or one with a folder. OSError: a file cannot be written.
        ReconstructionError: the face's position map is not finite (nothing written).
    """
    _check_stem(stem)
    check_faces([face])
    return _write_face(face, out_dir, stem, options if options is not None else ExportOptions())


def _check_stem(stem: str) -> None:
    if not stem or os.sep in stem or (os.altsep and os.altsep in stem):
        raise PRNetError(f"stem must be a non-empty file name without a folder, got {stem!r}")


def _write_face(face: FaceResult, out_dir: str | os.PathLike, stem: str,
                opts: ExportOptions) -> list[Path]:
    """:func:`export_face` for a face and stem already checked."""
    base = Path(out_dir) / f"{stem}_{face.index}"
    return [p for out in registered() if out.name in opts for p in out.write(face, base, opts)]


def check_faces(faces: Sequence[FaceResult]) -> None:
    """The last line of defence: refuse faces whose position map (every output's source) holds
    NaN or infinite values.

    Raises:
        ReconstructionError: naming the face; nothing has been written.
    """
    for face in faces:
        check_finite(f"face {face.index}: position map", face.posmap)


def face_summary(face: FaceResult) -> dict[str, Any]:
    """JSON-ready description of one face: :func:`prnet.outputs.schema.face_record`."""
    return face_record(face)


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
    image_files: Sequence[Path] = (),
) -> Path:
    """Write ``<out_dir>/<stem>.json``: :func:`prnet.outputs.schema.image_record` with the file
    names relative to ``out_dir`` (``/`` separated). Also for an image without faces.

    Args:
        faces: the image's faces (may be empty).
        out_dir: destination folder (created when missing).
        stem: the JSON is ``<stem>.json``.
        source: the input image's path, recorded as given; when ``stem`` is not its file
            stem (made unique by the caller), ``stem`` is recorded too.
        image_shape: (height, width); taken from the faces when omitted.
        files: per face, the paths :func:`export_face` wrote (same order as ``faces``).
        options: the export options the files were written with (null when not given).
        image_files: files of the whole image (the combined ``<stem>_viz.jpg``).

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
    record = image_record(faces, source=source, image_shape=image_shape,
                          files=[_relative(fs, folder) for fs in files], options=options,
                          image_files=_relative(image_files, folder))
    if source is not None and stem != Path(os.fspath(source)).stem:
        record["stem"] = stem  # a stem made unique (another input has the same name)
    return write_json(folder / f"{stem}.json", record)


def export_image(
    faces: Sequence[FaceResult],
    out_dir: str | os.PathLike,
    stem: str,
    options: ExportOptions | None = None,
    *,
    source: str | os.PathLike | None = None,
    image_shape: tuple[int, int] | None = None,
) -> list[Path]:
    """Every output for one image: :func:`export_face` for each face, the image's combined
    ``<stem>_viz.jpg`` (with ``viz``, unless ``full_frame``), then the summary JSON.

    Returns:
        All paths written, the ``<stem>.json`` summary last.

    Raises:
        As :func:`export_face` and :func:`export_image_summary`; a face with a non-finite
        position map is refused before any file of the image is written.
    """
    opts = options if options is not None else ExportOptions()
    check_faces(faces)  # all faces before the first file: an image is written whole or not at all
    if faces:
        _check_stem(stem)
    per_face = [_write_face(f, out_dir, stem, opts) for f in faces]
    image_files = []
    if faces and opts.viz and not opts.full_frame:
        image_files.append(write_jpeg(Path(out_dir) / f"{stem}_viz.jpg", combined_drawing(faces)))
    summary = export_image_summary(faces, out_dir, stem, source=source,
                                   image_shape=image_shape, files=per_face, options=opts,
                                   image_files=image_files)
    return [p for ps in per_face for p in ps] + image_files + [summary]


def is_exported(out_dir: str | os.PathLike, stem: str, options: ExportOptions | None = None) -> bool:
    """Whether an earlier :func:`export_image` finished ``stem`` in ``out_dir`` with the same
    ``options``: its ``<stem>.json`` (written last) reads, records these options, and every file
    it lists exists. Used by ``prnet reconstruct --skip-existing`` to resume a run."""
    folder = Path(out_dir)
    try:
        obj = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
        return (obj.get("options") == (options or ExportOptions()).to_json()
                and all((folder / f).is_file() for f in obj["files"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
