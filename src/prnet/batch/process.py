"""The work of both engines on a chunk of images: decode, then the staged pipeline of
:class:`prnet.PRN` (detect → plan → crop → one batched network call → uncrop → faces), then the
rows. A failure stays with its image (a ``failed`` row), never the chunk's.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prnet.batch.rows import face_row, failed_row, no_face_row
from prnet.errors import PRNetError

if TYPE_CHECKING:
    from prnet import PRN
    from prnet.outputs import ExportOptions
    from prnet.pipeline.plan import FacePlan

log = logging.getLogger(__name__)

__all__ = ["FILES_DIR", "Decoded", "RowSettings", "decode", "files_folder", "image_rows"]

#: Folder under the output folder holding the ``--outputs`` files, one sub-folder per shard.
FILES_DIR = "_files"


@dataclass(frozen=True)
class RowSettings:
    """What goes into the rows besides the faces: ``dense`` (``posmap``/``vertices``/None),
    ``outputs`` (files written per face through :func:`prnet.outputs.export_face`, into
    ``<out_dir>/_files/<shard>/``) and the decoder's pixel limit."""

    out_dir: str
    dense: str | None = None
    outputs: ExportOptions | None = None
    max_pixels: int = 80_000_000


@dataclass
class Decoded:
    """An input image: ``path``, its shard, and the RGB image or the reason it is unreadable."""

    path: str
    shard: int
    image: np.ndarray | None = None
    error: str | None = None


def error_line(exc: BaseException) -> str:
    """One line for a failed image: a PRNetError's own message, else the type and message."""
    from prnet.cli.messages import oneline

    text = str(exc) if isinstance(exc, PRNetError) else f"{type(exc).__name__}: {exc}"
    return oneline(text) or type(exc).__name__


def decode(path: str, shard: int, max_pixels: int) -> Decoded:
    """Read ``path`` (:func:`prnet.io.read_image`); never raises for a bad file."""
    from prnet.io import read_image
    from prnet.io._quiet import quiet_warnings

    try:
        with quiet_warnings(path):
            return Decoded(path, shard, read_image(path, max_pixels=max_pixels))
    except Exception as exc:  # noqa: BLE001 - every failure becomes the image's row
        return Decoded(path, shard, error=error_line(exc))


def files_folder(out_dir: str | os.PathLike, shard: int) -> Path:
    """The folder of a shard's ``--outputs`` files."""
    from prnet.batch.shards import shard_name

    return Path(out_dir) / FILES_DIR / shard_name(shard).removesuffix(".parquet")


def file_stem(path: str) -> str:
    """The output stem of an input: its file stem and 8 hex digits of the SHA-1 of the path
    (inputs of the same name in different folders share a shard folder)."""
    digest = hashlib.sha1(os.fsencode(path)).hexdigest()[:8]
    return f"{Path(path).stem[:100]}-{digest}"


def _posmaps(prn: PRN, images: Sequence[np.ndarray], plans: Sequence[Sequence[FacePlan]],
             ) -> list[np.ndarray | BaseException]:
    """Each image's position maps, all faces in one network call
    (:meth:`prnet.PRN.posmaps_batch`); when that call fails, each image again alone
    (:meth:`prnet.PRN.posmaps`) so that only a bad one fails."""
    try:
        return list(prn.posmaps_batch(images, plans))
    except Exception:
        log.debug("merged network batch failed; retrying image by image", exc_info=True)
    out: list[np.ndarray | BaseException] = []
    for img, p in zip(images, plans, strict=True):
        try:
            out.append(prn.posmaps(img, p))
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    return out


def image_rows(prn: PRN, items: Sequence[Decoded], settings: RowSettings) -> list[dict]:
    """The rows of decoded images, in input order (an image's faces left to right)."""
    from prnet.cli.messages import printable

    names = [printable(it.path) for it in items]  # the ``path`` column (always valid UTF-8)
    rows: list[list[dict]] = [[] for _ in items]
    todo: list[int] = []
    plans: list[list] = []
    for i, it in enumerate(items):
        if it.image is None:
            rows[i] = [failed_row(names[i], it.error or "unreadable")]
            continue
        try:
            p = prn.plan(prn.detect(it.image, key=it.path), image_shape=it.image.shape[:2])
        except Exception as exc:  # noqa: BLE001
            rows[i] = [failed_row(names[i], error_line(exc), it.image.shape)]
            continue
        if not p:
            rows[i] = [no_face_row(names[i], it.image.shape)]
            continue
        todo.append(i)
        plans.append(p)
    maps = _posmaps(prn, [items[i].image for i in todo], plans)
    if prn.refine:
        ok = [j for j, m in enumerate(maps) if not isinstance(m, BaseException)]
        for j in ok:
            plans[j] = prn.replan(plans[j], maps[j])
        again = _posmaps(prn, [items[todo[j]].image for j in ok], [plans[j] for j in ok])
        for j, m in zip(ok, again, strict=True):
            maps[j] = m
    for i, p, m in zip(todo, plans, maps, strict=True):
        it = items[i]
        try:
            if isinstance(m, BaseException):
                raise m
            rows[i] = _face_rows(prn, it, names[i], p, m, settings)
        except Exception as exc:  # noqa: BLE001
            rows[i] = [failed_row(names[i], error_line(exc), it.image.shape)]
    return [r for rs in rows for r in rs]


def _face_rows(prn: PRN, item: Decoded, name: str, plans: Sequence[FacePlan],
               maps: np.ndarray, settings: RowSettings) -> list[dict]:
    faces = prn.faces(item.image, plans, maps)
    files: list[list[str] | None] = [None] * len(faces)
    if settings.outputs is not None:
        from prnet.outputs import export_face

        folder = files_folder(settings.out_dir, item.shard)
        stem = file_stem(item.path)
        files = [[Path(os.path.relpath(p, settings.out_dir)).as_posix()
                  for p in export_face(f, folder, stem, settings.outputs)] for f in faces]
    return [face_row(name, f, len(faces), settings.dense, fs)
            for f, fs in zip(faces, files, strict=True)]
