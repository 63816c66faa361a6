"""prnet — PRNet (Feng et al., ECCV 2018) for today: dense 3D faces, 68 landmarks, meshes,
textures and pose from photos, via a UV position map regressed by a CNN.

Three lines for the common case::

    from prnet import PRN
    prn = PRN()
    faces = prn.reconstruct("photo.jpg")   # list[FaceResult], [] when no face
"""

from prnet.errors import PRNetError

__version__ = "0.1.0"

__all__ = ["PRN", "FaceResult", "ModelOptions", "PRNetError", "__version__"]


def __getattr__(name: str):  # lazy: importing prnet stays cheap (no torch until needed)
    if name in ("PRN", "FaceResult", "ModelOptions"):
        from prnet import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'prnet' has no attribute {name!r}")
