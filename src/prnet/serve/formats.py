"""Response bodies of ``/v1/reconstruct`` from the output registry's own writers.

A single-file format (``glb``, ``obj``, ``ply``, ``depth``, ``texture``) runs the registered
output's writer for one face into a private temporary folder (fixed file names, never the
client's) and reads the file back; ``zip`` runs :func:`prnet.outputs.export_image` for the
chosen outputs and zips the folder. No format logic is repeated here.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prnet.outputs import ExportOptions, export_image, get_output, output_names
from prnet.outputs.regions import depth_encoding, output_region
from prnet.serve.errors import ServiceError

if TYPE_CHECKING:
    from prnet.pipeline import FaceResult

__all__ = ["FILE_FORMATS", "FileFormat", "face_file", "parse_outputs", "zip_outputs"]

#: File stem inside the temporary folder and of the names sent (never the client's).
STEM = "image"


@dataclass(frozen=True)
class FileFormat:
    """``format=name``: the registered ``output`` written, its file ending in ``suffix``."""

    output: str
    suffix: str
    media_type: str


FILE_FORMATS = {
    "glb": FileFormat("glb", ".glb", "model/gltf-binary"),
    "obj": FileFormat("obj", ".obj", "model/obj"),
    "ply": FileFormat("ply", ".ply", "application/octet-stream"),
    "depth": FileFormat("depth", "_depth.png", "image/png"),
    "texture": FileFormat("texture", "_tex_texture.png", "image/png"),
}


def parse_outputs(text: str | None) -> ExportOptions:
    """``outputs=`` (comma-separated registry names, or ``all``: the CLI's ``--all``; default: the
    CLI defaults)."""
    if text is None or not text.strip():
        return ExportOptions()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return ExportOptions.all()
    unknown = [n for n in names if n not in output_names()]
    if unknown:
        raise ServiceError(422, f"outputs: unknown output {unknown[0]!r}; valid: "
                           f"{', '.join(output_names())} or all")
    return ExportOptions.from_names(names)


def pick_face(faces: list[FaceResult], index: int) -> FaceResult:
    """Face ``index`` (404 when the image has no such face)."""
    if not 0 <= index < len(faces):
        raise ServiceError(404, f"no face {index}: the image has {len(faces)} face(s)",
                           code="no_such_face")
    return faces[index]


def face_file(face: FaceResult, fmt: str) -> tuple[bytes, str, str, dict[str, str]]:
    """``(bytes, media type, file name, headers)`` of one face in the single-file format
    ``fmt``; ``depth`` comes with ``X-Region`` (``[x0, y0, width, height]`` of the depth
    image in the photo) and ``X-Depth-Encoding`` (``{"scale",
    "offset"}``: ``z = png * scale + offset``, png 0 the background), as in the JSON record."""
    spec = FILE_FORMATS[fmt]
    options = ExportOptions.from_names([spec.output])
    with tempfile.TemporaryDirectory(prefix="prnet-serve-") as tmp:
        base = Path(tmp) / f"{STEM}_{face.index}"
        written = get_output(spec.output).write(face, base, options)
        path = next(p for p in written if p.name == base.name + spec.suffix)
        data = path.read_bytes()
    headers = {}
    if fmt == "depth":
        headers["X-Region"] = json.dumps(output_region(face, options).to_list())
        headers["X-Depth-Encoding"] = json.dumps(depth_encoding(face))
    return data, spec.media_type, path.name, headers


def zip_outputs(faces: list[FaceResult], image_shape: tuple[int, int],
                options: ExportOptions) -> bytes:
    """A zip of :func:`prnet.outputs.export_image`'s files for the image (``image.json``
    last, as ``prnet reconstruct`` writes them)."""
    with tempfile.TemporaryDirectory(prefix="prnet-serve-") as tmp:
        paths = export_image(faces, tmp, STEM, options, image_shape=image_shape)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for p in paths:
                z.write(p, arcname=p.relative_to(tmp).as_posix())
        return buf.getvalue()
