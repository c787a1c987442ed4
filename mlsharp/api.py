"""HTTP routes. Handlers only translate between HTTP and :class:`mlsharp.service.PredictionService`.

Every error is JSON ``{"detail": "..."}`` with a one-line string (validation errors included, see
:func:`install_error_handlers`), so curl users and the page can show it as is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from loguru import logger

from mlsharp import __version__
from mlsharp.cache import is_output_id
from mlsharp.schemas import (
    CacheCleared,
    CacheStats,
    ErrorResponse,
    HealthResponse,
    JobAccepted,
    JobStatus,
    PredictResponse,
    StatsResponse,
)
from mlsharp.security import require_api_key, require_metrics_key
from mlsharp.service import ServiceError

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "The upload is not a usable photo"),
        (401, "An API key is configured and the request did not present it"),
        (413, "The upload or the image is larger than allowed"),
        (422, "A form field is missing or out of range"),
        (429, "Too many requests from this client (see Retry-After)"),
        (500, "The prediction failed (e.g. the worker process crashed)"),
        (503, "Server busy or model not loaded (see Retry-After)"),
        (504, "The prediction took longer than performance.predict_timeout"),
    )
}
FALLBACK_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>MLSharp 3D Maker</title></head>
<body><h1>MLSharp 3D Maker</h1><p>The web page (static/index.html) is not installed.
The API works: see <a href="/docs">/docs</a>, or
<code>curl -F file=@photo.jpg http://HOST:PORT/api/predict</code>.</p></body></html>"""


def _owner(request: Request) -> Any:
    return request.app.state.mlsharp


def _raise(exc: ServiceError) -> None:
    raise HTTPException(exc.status_code, exc.detail, headers=exc.headers or None)


def rate_limited(request: Request) -> None:
    """Dependency for the routes that start predictions: per-client requests per minute."""
    owner = _owner(request)
    client = request.client.host if request.client else "unknown"
    wait = owner.rate_limiter.check(client)
    if wait is not None:
        owner.metrics.observe_predict("rate_limited")
        raise HTTPException(
            429,
            f"rate limit of {owner.rate_limiter.per_minute} requests per minute exceeded; retry later",
            headers={"Retry-After": owner.rate_limiter.retry_after_header(wait)},
        )


UploadField = Annotated[UploadFile, File(description="The photo: JPEG, PNG, WebP, HEIC, ...")]
FocalField = Annotated[
    float | None,
    Form(description="Focal length in pixels of the photo (default: from EXIF, else 30 mm-equivalent)"),
]
SizeField = Annotated[
    int | None,
    Form(description="Network input side (default from the config); rounded to a multiple of 64 in 512..1536"),
]


def build_router(metrics_path: str | None, static_dir: Path) -> APIRouter:
    pages = APIRouter()
    router = APIRouter(dependencies=[Depends(require_api_key)])  # every /api/* route

    @pages.get("/", include_in_schema=False)
    async def index() -> Response:
        page = static_dir / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(FALLBACK_PAGE)

    @router.post("/api/predict", response_model=PredictResponse, responses=ERRORS,
                 dependencies=[Depends(rate_limited)], tags=["predict"])
    async def predict(request: Request, file: UploadField, f_px: FocalField = None,
                      input_size: SizeField = None) -> Any:
        """Turn one photo into a Gaussian scene and wait for it (for scripts and curl)."""
        service = _owner(request).service
        data = await file.read()
        try:
            service.admit()
        except ServiceError as exc:
            _raise(exc)
        try:
            return await service.predict(data, f_px, input_size)
        except ServiceError as exc:
            _raise(exc)
        finally:
            service.release()

    @router.post("/api/jobs", status_code=202, response_model=JobAccepted, responses=ERRORS,
                 dependencies=[Depends(rate_limited)], tags=["predict"])
    async def create_job(request: Request, file: UploadField, f_px: FocalField = None,
                         input_size: SizeField = None) -> Any:
        """Same as /api/predict, but answer at once with a job id to poll (for the web page)."""
        service = _owner(request).service
        data = await file.read()
        try:
            job = service.submit_job(data, f_px, input_size)
        except ServiceError as exc:
            _raise(exc)
        return {"job_id": job.id, "state": job.state, "status_url": f"/api/jobs/{job.id}"}

    @router.get("/api/jobs/{job_id}", response_model=JobStatus, tags=["predict"],
                responses={404: {"model": ErrorResponse, "description": "Unknown or forgotten job"}})
    async def job_status(request: Request, job_id: str) -> Any:
        """State, stage and elapsed time of a job; its result (or error) once finished."""
        job = _owner(request).service.jobs.get(job_id) if is_output_id(job_id) else None
        if job is None:
            raise HTTPException(404, f"no job with id {job_id!r} (unknown, or finished long ago)")
        return job.snapshot()

    @router.get("/api/outputs/{output_id}.ply", response_class=FileResponse, tags=["outputs"],
                responses={404: {"model": ErrorResponse, "description": "Unknown output"}})
    async def download_ply(request: Request, output_id: str) -> Any:
        """Download a scene as binary PLY (the reference SHARP layout)."""
        path = _owner(request).service.find_output(output_id, ".ply")
        if path is None:
            raise HTTPException(404, "no output with this id (unknown, or evicted from the cache)")
        return FileResponse(path, media_type="application/octet-stream", filename=f"{output_id}.ply")

    @router.get("/api/outputs/{output_id}.spz", response_class=FileResponse, tags=["outputs"],
                responses={404: {"model": ErrorResponse, "description": "Unknown output"},
                           501: {"model": ErrorResponse, "description": "No .spz converter installed"}})
    async def download_spz(request: Request, output_id: str) -> Any:
        """The same scene as compressed .spz for the web viewer (converted on first request)."""
        service = _owner(request).service
        if not is_output_id(output_id):
            raise HTTPException(404, "no output with this id")
        try:
            path = await service.spz_for(output_id)
        except ServiceError as exc:
            _raise(exc)
        return FileResponse(path, media_type="application/octet-stream", filename=f"{output_id}.spz")

    @router.get("/api/health", response_model=HealthResponse, tags=["service"])
    async def health(request: Request) -> Any:
        """Liveness plus which backend answers (sharp or preview), on which device."""
        owner = _owner(request)
        described = owner.models.describe()
        return {
            "status": "ok" if described["model_loaded"] else "starting",
            "version": __version__,
            **described,
        }

    @router.get("/api/stats", response_model=StatsResponse, tags=["service"])
    async def stats(request: Request) -> Any:
        """Uptime, request and prediction counts, mean prediction time, GPU memory."""
        owner = _owner(request)
        pool = owner.models.pool
        return {
            "uptime_s": round(time.time() - owner.started, 3),
            "requests": owner.metrics.request_count,
            **owner.service.stats(),
            "backend": owner.models.status.name,
            "device": owner.device,
            "worker_restarts": pool.restarts if pool is not None else 0,
            "gpu_memory": owner.metrics.refresh_gpu(),
            "auto_tune": owner.models.status.auto_tune,
        }

    @router.get("/api/cache", response_model=CacheStats, tags=["cache"])
    async def cache_stats(request: Request) -> Any:
        """Result cache statistics (hit_rate in percent)."""
        return _owner(request).cache.stats()

    @router.post("/api/cache/clear", response_model=CacheCleared, tags=["cache"])
    async def cache_clear(request: Request) -> Any:
        """Forget every cached result and delete its files."""
        cache = _owner(request).cache
        cleared = cache.clear()
        logger.info("cache cleared ({} entries)", cleared)
        return {"cleared": cleared, "stats": cache.stats()}

    if metrics_path:

        @pages.get(metrics_path, tags=["service"], response_class=Response,
                   dependencies=[Depends(require_metrics_key)],
                   responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
        async def metrics(request: Request) -> Response:
            """Prometheus metrics (text exposition format)."""
            manager = _owner(request).metrics
            return Response(manager.generate(), media_type=manager.content_type)

    combined = APIRouter()
    combined.include_router(pages)
    combined.include_router(router)
    return combined


def _one_line(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
        parts.append(f"{'.'.join(loc) or 'request'}: {error.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _one_line(exc)}, status_code=422)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.opt(exception=exc).error("unhandled error")
        return JSONResponse({"detail": f"internal server error ({type(exc).__name__})"}, status_code=500)
