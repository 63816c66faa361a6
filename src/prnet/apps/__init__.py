"""Applications built on the reconstruction: UV textures, face swap / texture editing, video.

- :mod:`prnet.apps.texture`: UV textures with self-occlusion masking and mirror filling.
- :mod:`prnet.apps.swap`: :func:`swap_faces` (whole face, eyes or a UV mask; colour transfer;
  Poisson blending).
- :mod:`prnet.apps.video`: :func:`process_video` (a file or a camera; tracking, One-Euro
  smoothing, annotated MP4, CSV / NPZ / OBJ outputs), built on :mod:`prnet.apps.tracking`,
  :mod:`prnet.apps.smoothing`, :mod:`prnet.apps.camera` (camera input, preview window) and
  :mod:`prnet.apps.video_writer` (H.264 that browsers play, mp4v fallback).

Importing this package is cheap; the submodules load what they need.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FaceTracker",
    "OneEuroFilter",
    "SwapResult",
    "VideoProcessor",
    "process_video",
    "swap_all_faces",
    "swap_faces",
    "swap_faces_result",
    "uv_texture",
]

_WHERE = {
    "FaceTracker": "tracking",
    "OneEuroFilter": "smoothing",
    "SwapResult": "swap",
    "VideoProcessor": "video",
    "process_video": "video",
    "swap_all_faces": "swap",
    "swap_faces": "swap",
    "swap_faces_result": "swap",
    "uv_texture": "texture",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"prnet.apps.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'prnet.apps' has no attribute {name!r}")
