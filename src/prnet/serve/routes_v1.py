"""``POST /v1/reconstruct`` and ``POST /v1/swap``."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response

from prnet.outputs.schema import image_record
from prnet.serve.errors import ServiceError
from prnet.serve.formats import face_file, parse_outputs, pick_face, zip_outputs
from prnet.serve.limits import check_part_type
from prnet.serve.reconstruction import parse_boxes

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["reconstruction"])

Format = Literal["json", "glb", "obj", "ply", "depth", "texture", "zip"]
_ERRORS = {400: {"description": "not an image, corrupt or empty"},
           401: {"description": "missing or wrong API key (with --api-key)"},
           404: {"description": "no such face index"},
           413: {"description": "upload or image over the size limits"},
           415: {"description": "not multipart/form-data, or the file is not an image"},
           422: {"description": "bad parameters"},
           503: {"description": "server busy (queue full)"}}


async def _upload(name: str, upload: UploadFile) -> bytes:
    check_part_type(name, upload.content_type)
    return await upload.read()


def _attachment(data: bytes, media_type: str, filename: str,
                headers: dict[str, str] | None = None) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})})


@router.post("/reconstruct", responses={200: {"content": {
    "application/json": {}, "model/gltf-binary": {}, "model/obj": {}, "image/png": {},
    "application/zip": {}}, "description": "the image's faces"}, **_ERRORS})
async def reconstruct(
    request: Request,
    image: Annotated[UploadFile, File(description="the photo (JPEG, PNG, WebP, BMP, TIFF, ...)")],
    format: Annotated[Format, Query(description="json: the image record (as `prnet "
                                    "reconstruct`'s <stem>.json); glb|obj|ply|depth|texture: one "
                                    "face's file; zip: the files of `outputs` for every face plus "
                                    "image.json")] = "json",
    face: Annotated[int | None, Query(ge=0, description="face index, left to right from 0 (file "
                                      "formats: default 0; json: only this face)")] = None,
    boxes: Annotated[str | None, Query(description="JSON [[x0, y0, x1, y1], ...]: these faces "
                                       "instead of the detector's")] = None,
    outputs: Annotated[str | None, Query(description="format=zip: comma-separated outputs as the "
                                         "CLI flags (obj, kpt, pose, ply, glb, ...; default "
                                         "obj,kpt,pose) or all")] = None,
) -> Response:
    """Reconstruct every face of an uploaded photo."""
    if outputs is not None and format != "zip":
        raise ServiceError(422, "outputs: only with format=zip")
    options = parse_outputs(outputs) if format == "zip" else None
    given = parse_boxes(boxes)
    data = await _upload("image", image)
    service = request.app.state.service
    runner = await service.runner()
    img, faces = await runner.reconstruct("image", data, given)
    service.metrics.add_faces(len(faces))
    if format == "json":
        chosen = faces if face is None else [pick_face(faces, face)]
        body = await runner.cpu(_record_json, chosen, img.shape[:2])
        return Response(body, media_type="application/json")
    if format == "zip":
        body = await runner.cpu(zip_outputs, faces, img.shape[:2], options)
        return _attachment(body, "application/zip", "image.zip")
    chosen = pick_face(faces, 0 if face is None else face)
    body, media_type, name, headers = await runner.cpu(face_file, chosen, format)
    return _attachment(body, media_type, name, headers)


def _record_json(faces, image_shape: tuple[int, int]) -> bytes:
    """The image record as JSON bytes (built in a worker thread: it computes visibility)."""
    return json.dumps(image_record(faces, image_shape=image_shape),
                      separators=(",", ":")).encode("utf-8")


def _swap_png(src, src_faces, ref, ref_face, mode: str, color_transfer: bool) -> bytes:
    from prnet.apps.swap import swap_all_faces
    from prnet.io import write_image

    res = swap_all_faces(src, src_faces, ref, ref_face, mode=mode, color_transfer=color_transfer)
    if not res.mask.any():
        raise ServiceError(422, "nothing to swap: the region covers no pixel of the source",
                           code="nothing_to_swap")
    with tempfile.TemporaryDirectory(prefix="prnet-serve-") as tmp:
        return write_image(Path(tmp) / "swap.png", res.image).read_bytes()


@router.post("/swap", responses={200: {"content": {"image/png": {}},
                                       "description": "the source photo with the swapped face(s)"},
                                 **_ERRORS})
async def swap(
    request: Request,
    source: Annotated[UploadFile, File(description="photo whose faces are replaced")],
    reference: Annotated[UploadFile, File(description="photo the new texture comes from")],
    mode: Annotated[Literal["face", "eyes"], Query(description="what is swapped")] = "face",
    ref_index: Annotated[int, Query(ge=0, description="which reference face (left to right "
                                    "from 0)")] = 0,
    color_transfer: Annotated[bool, Query(description="match the reference colours to the "
                                          "source")] = True,
) -> Response:
    """Put the reference face's texture (or its eyes) on every face of the source photo."""
    src_data = await _upload("source", source)
    ref_data = await _upload("reference", reference)
    service = request.app.state.service
    runner = await service.runner()
    (src, src_faces), (ref, ref_faces) = await asyncio.gather(
        runner.reconstruct("source", src_data), runner.reconstruct("reference", ref_data))
    service.metrics.add_faces(len(src_faces) + len(ref_faces))
    for name, faces in (("source", src_faces), ("reference", ref_faces)):
        if not faces:
            raise ServiceError(422, f"no face found in {name}", code="no_face")
    if ref_index >= len(ref_faces):
        raise ServiceError(404, f"no face {ref_index}: the reference has {len(ref_faces)} "
                           "face(s)", code="no_such_face")
    body = await runner.cpu(_swap_png, src, src_faces, ref, ref_faces[ref_index], mode,
                            color_transfer)
    return Response(body, media_type="image/png")
