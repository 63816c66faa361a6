"""Per-face output files and per-image JSON records (the library side of ``prnet reconstruct``).

>>> from prnet import PRN                                           # doctest: +SKIP
>>> from prnet.outputs import ExportOptions, export_image           # doctest: +SKIP
>>> faces = PRN().reconstruct("photo.jpg")                          # doctest: +SKIP
>>> export_image(faces, "out", "photo", ExportOptions(ply=True),    # doctest: +SKIP
...              source="photo.jpg", image_shape=(480, 640))
[PosixPath('out/photo_0.obj'), ..., PosixPath('out/photo.json')]

Layout: one module per format (``obj``, ``texture``, ``front``, ``kpt``, ``pose``, ``depth``,
``mat``, ``ply``, ``npz``, ``viz``, ``glb``), each with ``write(face, base, options) ->
list[Path]`` writing ``<base><suffix>`` files (``base`` = ``<out_dir>/<stem>_<face index>``);
:mod:`~prnet.outputs.registry` lists them (name, suffixes, help, default) and everything else
is generated from it: the CLI flags, ``--all``, the defaults, :class:`ExportOptions`.
:mod:`~prnet.outputs.schema` defines the JSON records (``"schema": 1``).

To add a format: write ``prnet/outputs/<name>.py`` with ``write`` and add one
``Output(name, suffixes, description, write)`` to ``registry._register_builtins`` (or call
:func:`register` from your own code).

Coordinates: landmarks, depth, ``.npz``/``.mat`` arrays and drawings are in image pixels
(x right, y down, z towards the viewer). Meshes (OBJ/PLY/GLB) are in viewer orientation: y is
flipped with the image height (``y' = H - 1 - y``) and triangles face the viewer. Frontal
meshes are in the canonical y-up frame at the canonical size (BFM units / 10⁴), not pixels.
"""

from __future__ import annotations

from typing import Any

from prnet.outputs.arrays import face_arrays
from prnet.outputs.export import (
    export_face,
    export_image,
    export_image_summary,
    face_summary,
    is_exported,
)
from prnet.outputs.options import ExportOptions
from prnet.outputs.registry import (
    Output,
    all_names,
    default_names,
    get_output,
    output_names,
    register,
    registered,
    unregister,
)
from prnet.outputs.schema import SCHEMA_VERSION, face_record, image_record

__all__ = [
    "DEFAULT_OUTPUTS",
    "OUTPUTS",
    "SCHEMA_VERSION",
    "ExportOptions",
    "Output",
    "all_names",
    "default_names",
    "export_face",
    "export_image",
    "export_image_summary",
    "face_arrays",
    "face_record",
    "face_summary",
    "get_output",
    "image_record",
    "is_exported",
    "output_names",
    "register",
    "registered",
    "unregister",
]


def __getattr__(name: str) -> Any:
    # OUTPUTS / DEFAULT_OUTPUTS follow the registry (computed on access, never stale)
    if name == "OUTPUTS":
        return output_names()
    if name == "DEFAULT_OUTPUTS":
        return default_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
