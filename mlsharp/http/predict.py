"""Predictions: ``POST /api/predict`` (wait for the scene) and the job routes (answer at once, poll).

Jobs belong to the caller that created them (see :mod:`mlsharp.tracking`): status and cancel of
another caller's job answer 404, exactly like an unknown id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from mlsharp.delivery import Delivery, download_stem
from mlsharp.disconnect import CLIENT_CLOSED, ClientGone, unless_client_leaves
from mlsharp.http.deps import CallerDep, ServiceDep, TrackingDep, get_caller, rate_limited
from mlsharp.http.errors import ERRORS, described
from mlsharp.http.proxy import rooted
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
DensityField = Annotated[
    int | None,
    Form(description="Keep only this many Gaussians (the most important from the photo's view) in the scene "
                     "the answer's URLs serve; default inference.max_gaussians (null: all). The full scene is cached"),
]
WebhookField = Annotated[
    str | None,
    Form(description="http(s) URL to POST a signed JSON notice to when the job ends (needs webhooks.secret)"),
]
UNKNOWN_JOB = described((404, "Unknown or forgotten job (or another caller's)"))


@router.post("/predict", response_model=PredictResponse, responses=ERRORS, dependencies=[Depends(rate_limited)])
async def predict(request: Request, service: ServiceDep, tracking: TrackingDep, caller: CallerDep,
                  file: UploadField, f_px: FocalField = None, input_size: SizeField = None,
                  max_gaussians: DensityField = None) -> Any:
    """Turn one photo into a Gaussian scene and wait for it (for scripts and curl)."""
    data = await file.read()
    delivery = Delivery(download_stem(file.filename), max_gaussians)
    service.admit()
    try:  # a client that leaves frees its slot (mlsharp.disconnect)
        result = await unless_client_leaves(request.receive, service.predict(data, f_px, input_size, delivery))
    except ClientGone:
        return Response(status_code=CLIENT_CLOSED)
    finally:
        service.release()
    return rooted(request, tracking.granted(result, caller.id))


@router.post("/jobs", status_code=202, response_model=JobAccepted, responses=ERRORS,
             dependencies=[Depends(rate_limited)])
async def create_job(request: Request, tracking: TrackingDep, caller: CallerDep, file: UploadField,
                     f_px: FocalField = None, input_size: SizeField = None, max_gaussians: DensityField = None,
                     webhook_url: WebhookField = None) -> Any:
    """Same as /api/predict, but answer at once with a job id to poll (for the web page)."""
    data = await file.read()
    delivery = Delivery(download_stem(file.filename), max_gaussians)
    job = await tracking.submit(caller.id, data, f_px, input_size, webhook_url, str(request.base_url), delivery)
    return rooted(request, {"job_id": job["job_id"], "state": job["state"],
                            "status_url": f"/api/jobs/{job['job_id']}"})


@router.get("/jobs/{job_id}", response_model=JobStatus, responses=UNKNOWN_JOB)
async def job_status(request: Request, tracking: TrackingDep, caller: CallerDep, job_id: str) -> Any:
    """State, stage and elapsed time of a job; its result (or error) once finished."""
    return rooted(request, tracking.job(job_id, caller.id))


@router.delete("/jobs/{job_id}", response_model=JobStatus, responses=UNKNOWN_JOB)
async def cancel_job(request: Request, tracking: TrackingDep, caller: CallerDep, job_id: str) -> Any:
    """Cancel a job: a queued one never runs, a running one is stopped and its result discarded.

    Idempotent: cancelling a cancelled or finished job changes nothing and answers its status.
    """
    return rooted(request, tracking.cancel(job_id, caller.id))
