"""Batches: ``POST /api/batch`` (many photos or a .zip), its status, cancel, and the zip download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import StreamingResponse

from mlsharp.batch.zipstream import stream_zip
from mlsharp.http.deps import CallerDep, OwnerDep, get_caller, rate_limited
from mlsharp.http.errors import ERRORS, described
from mlsharp.http.proxy import rooted
from mlsharp.http.predict import FocalField, SizeField, WebhookField
from mlsharp.schemas import BatchStatus

router = APIRouter(prefix="/api/batch", tags=["batch"], dependencies=[Depends(get_caller)])
UNKNOWN = described((404, "Unknown batch (or another caller's)"))
FilesField = Annotated[
    list[UploadFile],
    File(description="Photos, as several 'files' parts; a .zip of photos may be one of them"),
]


@router.post("", status_code=202, response_model=BatchStatus, responses=ERRORS, dependencies=[Depends(rate_limited)])
async def create_batch(request: Request, owner: OwnerDep, caller: CallerDep, files: FilesField,
                       f_px: FocalField = None, input_size: SizeField = None,
                       webhook_url: WebhookField = None) -> Any:
    """Queue every photo as its own job; a photo that cannot be used is reported, the rest go on."""
    return rooted(request, await owner.batches.create(caller.id, files, f_px, input_size, webhook_url,
                                                      str(request.base_url)))


@router.get("/{batch_id}.zip", response_class=StreamingResponse, responses=UNKNOWN)
async def download_batch(owner: OwnerDep, caller: CallerDep, batch_id: str) -> Any:
    """The finished scenes as ``<photo>.ply`` plus ``manifest.json``, streamed as it is zipped."""
    members = owner.batches.zip_members(batch_id, caller.id)
    return StreamingResponse(stream_zip(members), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="batch-{batch_id[:8]}.zip"'})


@router.get("/{batch_id}", response_model=BatchStatus, responses=UNKNOWN)
async def batch_status(request: Request, owner: OwnerDep, caller: CallerDep, batch_id: str) -> Any:
    """Counts by state and one line per photo (job, state, Gaussians, download URL, error)."""
    return rooted(request, owner.batches.status(batch_id, caller.id))


@router.delete("/{batch_id}", response_model=BatchStatus, responses=UNKNOWN)
async def cancel_batch(request: Request, owner: OwnerDep, caller: CallerDep, batch_id: str) -> Any:
    """Cancel every photo of the batch that has not finished (idempotent)."""
    return rooted(request, owner.batches.cancel(batch_id, caller.id))
