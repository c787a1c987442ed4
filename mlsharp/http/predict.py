"""Predictions: ``POST /api/predict`` (wait for the scene) and the job routes (answer at once, poll)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from mlsharp.http.deps import ServiceDep, get_caller, rate_limited
from mlsharp.http.errors import ERRORS, described
from mlsharp.schemas import JobAccepted, JobStatus, PredictResponse

router = APIRouter(prefix="/api", tags=["predict"], dependencies=[Depends(get_caller)])

UploadField = Annotated[UploadFile, File(description="The photo: JPEG, PNG, WebP, HEIC, ...")]
FocalField = Annotated[
    float | None,
    Form(description="Focal length in pixels of the photo (default: from EXIF, else 30 mm-equivalent)"),
]
SizeField = Annotated[
    int | None,
    Form(description="Network input side (default from the config); rounded to a multiple of 64 in 512..1536"),
]


@router.post("/predict", response_model=PredictResponse, responses=ERRORS, dependencies=[Depends(rate_limited)])
async def predict(service: ServiceDep, file: UploadField, f_px: FocalField = None,
                  input_size: SizeField = None) -> Any:
    """Turn one photo into a Gaussian scene and wait for it (for scripts and curl)."""
    data = await file.read()
    service.admit()
    try:
        return await service.predict(data, f_px, input_size)
    finally:
        service.release()


@router.post("/jobs", status_code=202, response_model=JobAccepted, responses=ERRORS,
             dependencies=[Depends(rate_limited)])
async def create_job(service: ServiceDep, file: UploadField, f_px: FocalField = None,
                     input_size: SizeField = None) -> Any:
    """Same as /api/predict, but answer at once with a job id to poll (for the web page)."""
    data = await file.read()
    job = await service.submit_job(data, f_px, input_size)
    return {"job_id": job.id, "state": job.state, "status_url": f"/api/jobs/{job.id}"}


@router.get("/jobs/{job_id}", response_model=JobStatus, responses=described((404, "Unknown or forgotten job")))
async def job_status(service: ServiceDep, job_id: str) -> Any:
    """State, stage and elapsed time of a job; its result (or error) once finished."""
    return service.job(job_id)
