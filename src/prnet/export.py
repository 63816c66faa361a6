"""Compatibility module: the output writers live in :mod:`prnet.outputs` (one module per
format, a registry, one JSON schema). Every public name is re-exported from there."""

from __future__ import annotations

from typing import Any

from prnet.outputs import (
    ExportOptions,
    export_face,
    export_image,
    export_image_summary,
    face_arrays,
    face_summary,
    is_exported,
)

__all__ = [  # noqa: F822 - OUTPUTS, DEFAULT_OUTPUTS: module __getattr__ (follow the registry)
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


def __getattr__(name: str) -> Any:
    if name in ("OUTPUTS", "DEFAULT_OUTPUTS"):
        import prnet.outputs

        return getattr(prnet.outputs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
