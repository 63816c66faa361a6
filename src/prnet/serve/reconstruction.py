"""One request's reconstruction on the PRN stages, the network shared through the batcher.

decode → :meth:`~prnet.PRN.detect` → :meth:`~prnet.PRN.plan` → :meth:`~prnet.PRN.crop` (worker
threads) → :meth:`Batcher.predict` (shared network call) → :meth:`~prnet.PRN.uncrop` →
:meth:`~prnet.PRN.faces` (worker threads); with ``refine`` the crop → uncrop steps run twice,
as in :meth:`prnet.PRN.reconstruct_batch`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from prnet.errors import ImageReadError
from prnet.io import read_image
from prnet.pipeline.plan import FacePlan
from prnet.serve.errors import ServiceError
from prnet.serve.limits import check_image_header

if TYPE_CHECKING:
    from prnet import PRN
    from prnet.pipeline import FaceResult
    from prnet.serve.batching import Batcher

__all__ = ["Reconstructor", "parse_boxes"]

T = TypeVar("T")


def parse_boxes(text: str | None) -> list[list[float]] | None:
    """``boxes=`` (JSON ``[[x0, y0, x1, y1], ...]``) → the list, checked for shape only (the
    values are checked by :meth:`prnet.PRN.plan`); 422 otherwise."""
    if text is None or not text.strip():
        return None
    try:
        boxes = json.loads(text)
    except ValueError:
        raise ServiceError(422, "boxes: not JSON; expected [[x0, y0, x1, y1], ...]") from None
    ok = isinstance(boxes, list) and len(boxes) <= 256 and all(
        isinstance(b, list) and len(b) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)
        for b in boxes)
    if not ok:
        raise ServiceError(422, "boxes: expected a JSON list of at most 256 [x0, y0, x1, y1] "
                           "lists of numbers")
    return boxes


class Reconstructor:
    """Runs the stages of one request: CPU work in ``pool``, the network through ``batcher``."""

    def __init__(self, prn: PRN, batcher: Batcher, pool: Executor, max_pixels: int) -> None:
        self.prn, self.batcher, self.pool, self.max_pixels = prn, batcher, pool, max_pixels

    async def cpu(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the worker threads."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def decode(self, name: str, data: bytes) -> np.ndarray:
        """The upload as RGB uint8: size checked from the header first (413), then decoded."""
        check_image_header(name, data, self.max_pixels)
        try:
            return read_image(data, max_pixels=self.max_pixels)
        except ImageReadError as exc:  # named after the form field, not "<bytes>"
            raise ImageReadError(str(exc).replace("<bytes>", f"field {name!r}")) from None

    def _plan(self, image: np.ndarray, boxes: Sequence[Sequence[float]] | None) -> list[FacePlan]:
        shape = image.shape[:2]
        if boxes is None:
            return self.prn.plan(self.prn.detect(image), image_shape=shape)
        return self.prn.plan(boxes=boxes, image_shape=shape)

    async def _posmaps(self, image: np.ndarray, plans: list[FacePlan]) -> np.ndarray:
        batch = await self.cpu(self.prn.crop, image, plans)
        maps = await self.batcher.predict(batch)
        return await self.cpu(self.prn.uncrop, batch, maps)

    async def faces(self, image: np.ndarray,
                    boxes: Sequence[Sequence[float]] | None = None) -> list[FaceResult]:
        """The faces of a decoded image (left to right), as :meth:`prnet.PRN.reconstruct`."""
        plans = await self.cpu(self._plan, image, boxes)
        if not plans:
            return []
        posmaps = await self._posmaps(image, plans)
        if self.prn.refine:
            plans = self.prn.replan(plans, posmaps)
            posmaps = await self._posmaps(image, plans)
        return await self.cpu(self.prn.faces, image, plans, posmaps)

    async def reconstruct(self, name: str, data: bytes,
                          boxes: Sequence[Sequence[float]] | None = None,
                          ) -> tuple[np.ndarray, list[FaceResult]]:
        """Decode the upload ``data`` and reconstruct its faces: ``(image, faces)``."""
        image = await self.cpu(self.decode, name, data)
        return image, await self.faces(image, boxes)
