"""Every weight file shipped in ``prnet/assets``: one registry for the networks and the detectors.

Importable without torch (standard library only). The loaders read it:
:func:`prnet.models.weights.load_model` (position-map networks) and
:func:`prnet.detect.blazeface.load_net` (detectors) take the file and check its sha256 here.

>>> from prnet.weights import WEIGHTS
>>> WEIGHTS["blazeface_short"].input_size
128
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from prnet.errors import PRNetError, WeightsError

NETWORK_LICENCE = ("non-commercial research only (derived from the Basel Face Model, AFLW and "
                   "3DDFA_V2 pseudo-labels); see MODEL_CARD.md")
NETWORK_INPUT = ("RGB float in [0, 1], (B, 3, 256, 256); the network converts to the teacher's BGR "
                 "(x·255 − 127.5) / 128 itself")
BLAZEFACE_LICENCE = "Apache-2.0, Google LLC (MediaPipe); see assets/NOTICE.blazeface"


@dataclass(frozen=True)
class WeightEntry:
    """One shipped weight file.

    Attributes:
        name: registry key (``"mobilenet_unet"``, ``"blazeface_short"``, ...).
        kind: ``"network"`` (position-map network), ``"detector"`` (face detector) or
            ``"int8"`` (a network's int8 ONNX file, run by ``precision="int8"``).
        model: what the weights fit: a registered network name (``prnet.models``) or a
            detector variant (``"short"``/``"full"`` of BlazeFace).
        file: file name in ``prnet/assets``.
        sha256: hex digest checked on every load of the bundled file.
        input_size: side of the square network input, pixels.
        normalisation: what the network expects as input.
        licence: the terms of the weights.
    """

    name: str
    kind: Literal["network", "detector", "int8"]
    model: str
    file: str
    sha256: str
    input_size: int
    normalisation: str
    licence: str

    @property
    def path(self) -> Path:
        """Where the bundled file is installed."""
        return Path(str(resources.files("prnet") / "assets" / self.file))


def _network(name: str, sha256: str) -> WeightEntry:
    """A position-map network's entry: ``prnet_<name>.safetensors``, 256² input."""
    return WeightEntry(name=name, kind="network", model=name, file=f"prnet_{name}.safetensors",
                       sha256=sha256, input_size=256, normalisation=NETWORK_INPUT,
                       licence=NETWORK_LICENCE)


WEIGHTS: dict[str, WeightEntry] = {e.name: e for e in (
    _network("mobilenet_unet", "206bbf5fc8ae180296a5f28106a7d13dbb84664ec97d431bb3f14fbe263012e8"),
    _network("mobilenet_unet_fast",
             "5fbc740ba9f7ab7ee2c4a50e4e2ff61079fb9854f1ce1a40d777ddc2aed61a3a"),
    WeightEntry(
        name="blazeface_short", kind="detector", model="short",
        file="blazeface_short.safetensors",
        sha256="57a93e67a3b7165d716cf3c9ad35e289533d34ab33603c329b42326ec2ed1284",
        input_size=128, normalisation="RGB letterboxed, x / 127.5 − 1", licence=BLAZEFACE_LICENCE,
    ),
    WeightEntry(
        name="blazeface_full", kind="detector", model="full",
        file="blazeface_full.safetensors",
        sha256="bd2bf23e50d554f4b8358c3f769fa02e0419b85c0daa7468ece3debcd2b25cde",
        input_size=192, normalisation="RGB letterboxed, x / 127.5 − 1", licence=BLAZEFACE_LICENCE,
    ),
    # research/int8_quantisation.py --model fast, variant percentile:io+up (MODEL_CARD)
    WeightEntry(
        name="mobilenet_unet_fast_int8", kind="int8", model="mobilenet_unet_fast",
        file="prnet_mobilenet_unet_fast_int8.onnx",
        sha256="cf532f25c34a2f62126fccfa8b7834ec35192ea256bfc9159532250ece7b499c",
        input_size=256, normalisation=NETWORK_INPUT, licence=NETWORK_LICENCE,
    ),
)}


def weight_entry(name: str) -> WeightEntry:
    """The registry entry ``name``.

    Raises:
        PRNetError: no such entry (the message lists the valid names).
    """
    if name not in WEIGHTS:
        raise PRNetError(f"no bundled weights named {name!r}; available: {', '.join(WEIGHTS)}")
    return WEIGHTS[name]


def entries(kind: str | None = None) -> list[WeightEntry]:
    """All entries, or those of one ``kind`` (``"network"`` / ``"detector"`` / ``"int8"``)."""
    return [e for e in WEIGHTS.values() if kind is None or e.kind == kind]


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified_path(entry: WeightEntry) -> Path:
    """The bundled file of ``entry`` after checking that it exists and matches its sha256.

    Raises:
        WeightsError: the file is missing or its sha256 differs (a corrupt install).
    """
    path = entry.path
    if not path.is_file():
        raise WeightsError(f"bundled weights {entry.file} ({entry.name}) are missing; reinstall prnet")
    if file_sha256(path) != entry.sha256:
        raise WeightsError(f"bundled weights {path} ({entry.name}) are corrupt (sha256 mismatch); "
                           "reinstall prnet")
    return path
