"""Downloads of finished scenes: ``/api/outputs/{id}.ply`` and the viewer's ``.spz``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from mlsharp.http.deps import ServiceDep, get_caller
from mlsharp.http.errors import described

router = APIRouter(prefix="/api/outputs", tags=["outputs"], dependencies=[Depends(get_caller)])
UNKNOWN = described((404, "Unknown output"))


def _download(path: Any, output_id: str, suffix: str) -> FileResponse:
    return FileResponse(path, media_type="application/octet-stream", filename=f"{output_id}{suffix}")


@router.get("/{output_id}.ply", response_class=FileResponse, responses=UNKNOWN)
async def download_ply(service: ServiceDep, output_id: str) -> Any:
    """Download a scene as binary PLY (the reference SHARP layout)."""
    return _download(service.output_file(output_id, ".ply"), output_id, ".ply")


@router.get("/{output_id}.spz", response_class=FileResponse, responses=UNKNOWN)
async def download_spz(service: ServiceDep, output_id: str) -> Any:
    """The same scene as compressed .spz for the web viewer (converted on first request)."""
    return _download(await service.spz_for(output_id), output_id, ".spz")
