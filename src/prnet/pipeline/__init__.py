"""The staged inference pipeline: detect → plan crops → position maps → faces.

>>> from prnet import PRN                       # doctest: +SKIP
>>> faces = PRN().reconstruct("photo.jpg")      # doctest: +SKIP
>>> faces[0].landmarks.shape, faces[0].pose.yaw # doctest: +SKIP
((68, 3), 12.3)

Modules: :mod:`~prnet.pipeline.options` (:class:`ModelOptions`), :mod:`~prnet.pipeline.plan`
(crop planning), :mod:`~prnet.pipeline.posmaps` (crops → network → image-space maps, TTA),
:mod:`~prnet.pipeline.result` (:class:`FaceResult`), :mod:`~prnet.pipeline.prn` (:class:`PRN`).
"""

from prnet.pipeline.options import TTA_MODES, ModelOptions
from prnet.pipeline.plan import DETECTOR_CROP, FacePlan
from prnet.pipeline.posmaps import TTA_SHIFT, CropBatch, PosmapNetwork, uncrop_maps
from prnet.pipeline.prn import PRN, ImageLike, resolve_device
from prnet.pipeline.result import FaceResult, build_faces

__all__ = [
    "DETECTOR_CROP",
    "PRN",
    "TTA_MODES",
    "TTA_SHIFT",
    "CropBatch",
    "FacePlan",
    "FaceResult",
    "ImageLike",
    "ModelOptions",
    "PosmapNetwork",
    "build_faces",
    "resolve_device",
    "uncrop_maps",
]
