"""Downloads of finished scenes: ``GET /api/outputs/{id}.{fmt}`` for every registered format.

The formats are those of :data:`sharpnet.io.registry.FORMATS` (the enum below is built from it, so
``/docs`` lists them and an unknown one is a one-line 422); ``?max_gaussians=N`` serves the scene
reduced to the N most important Gaussians, ``?name=`` names the saved file (the answers' URLs
carry the photo's name: :mod:`mlsharp.delivery` says why per request). Conversions are made on the first request and kept
beside the output (see :mod:`mlsharp.exports`). HEAD answers the size (the page shows it before
a download; the conversion happens then).
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from starlette.convertors import Convertor, register_url_convertor

from mlsharp.delivery import Delivery, clean_name
from mlsharp.http.deps import CallerDep, ServiceDep, TrackingDep, get_caller
from mlsharp.http.errors import described
from mlsharp.exports import DEPTH_COLOR_SUFFIX, DEPTH_SUFFIX, MAX_GAUSSIANS
from sharpnet.io.registry import FORMATS


class _OutputId(Convertor):
    """The id stops at the first dot, so ``<id>.compressed.ply`` splits there (the service
    answers 404 for anything that is not a real id)."""

    regex = r"[^/.]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("output_id", _OutputId())
Format = enum.Enum("Format", {name.replace(".", "_"): name for name in FORMATS}, type=str)
MaxGaussians = Annotated[
    int | None,
    Query(ge=1, le=MAX_GAUSSIANS,
          description="Keep only this many Gaussians: the most opaque and largest on screen from the photo's viewpoint"),
]

NameQuery = Annotated[
    str | None,
    Query(max_length=1000, description="Save the download as <name>.<format> (the answers' URLs carry the photo's "
                                       "name); path parts, quotes and control characters are dropped"),
]

router = APIRouter(prefix="/api/outputs", tags=["outputs"], dependencies=[Depends(get_caller)])
RESPONSES = described((404, "Unknown output"), (422, "Unknown format or max_gaussians out of range"),
                      (500, "The conversion failed"))


@router.get("/{output_id:output_id}.depth.png", response_class=FileResponse, responses=RESPONSES)
@router.head("/{output_id:output_id}.depth.png", include_in_schema=False)
async def depth(service: ServiceDep, tracking: TrackingDep, caller: CallerDep, output_id: str,
                name: NameQuery = None) -> Any:
    """The scene's depth as a 16-bit grayscale PNG: millimetres along the camera's forward axis,
    0 = no data, clamped to 1..65535 mm (the PNG's text chunk says so too)."""
    tracking.check_output(output_id, caller.id)
    path = await service.depth_for(output_id, DEPTH_SUFFIX)
    return named_file(path, "image/png", Delivery(clean_name(name)).disposition(output_id, "-depth.png"))


@router.get("/{output_id:output_id}.depthcolor.png", response_class=FileResponse, responses=RESPONSES)
@router.head("/{output_id:output_id}.depthcolor.png", include_in_schema=False)
async def depth_preview(service: ServiceDep, tracking: TrackingDep, caller: CallerDep, output_id: str,
                        name: NameQuery = None) -> Any:
    """The depth map colourised for people: near is bright yellow, far dark blue."""
    tracking.check_output(output_id, caller.id)
    path = await service.depth_for(output_id, DEPTH_COLOR_SUFFIX)
    return named_file(path, "image/png", Delivery(clean_name(name)).disposition(output_id, "-depth-preview.png"))


@router.get("/{output_id:output_id}.{fmt}", response_class=FileResponse, responses=RESPONSES)
@router.head("/{output_id:output_id}.{fmt}", include_in_schema=False)
async def download(service: ServiceDep, tracking: TrackingDep, caller: CallerDep, output_id: str, fmt: Format,
                   max_gaussians: MaxGaussians = None, name: NameQuery = None) -> Any:
    """The scene in any export format: ``ply`` (SHARP's layout), ``spz``, ``splat``, ``compressed.ply``.

    Saved as ``<name>[-<max_gaussians>].<format>``; without ``name``, under the output id."""
    tracking.check_output(output_id, caller.id)
    delivery = Delivery(clean_name(name), max_gaussians)
    found = await service.download(output_id, FORMATS[fmt.value].name, delivery)
    if found.path is not None:
        return named_file(found.path, found.media_type, found.disposition)
    if found.url is not None:  # storage.downloads: redirect (presigned S3 URL)
        return RedirectResponse(found.url, status_code=307)
    return StreamingResponse(found.chunks, media_type=found.media_type,
                             headers={"Content-Disposition": found.disposition})


def named_file(path: Any, media_type: str, disposition: str) -> FileResponse:
    """The file with our Content-Disposition (Starlette's own has no ASCII fallback for
    non-ASCII names, which older clients need)."""
    return FileResponse(path, media_type=media_type, headers={"Content-Disposition": disposition})
