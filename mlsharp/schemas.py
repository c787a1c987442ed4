"""Response models of the HTTP API (they are what ``/docs`` shows and what the UI codes against)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong, in one sentence")


class Timings(BaseModel):
    image_load: float = Field(description="Decoding the upload and hashing its pixels (s)")
    inference: float = Field(description="Running the backend (s); 0 on a cache hit")
    ply_save: float = Field(description="Writing the .ply (s); 0 on a cache hit")
    forward: float | None = Field(
        None, description="The network's forward pass alone, part of inference (s; sharp backend, not on a cache hit)"
    )
    total: float = Field(description="Whole request, waiting included (s)")


class PredictResponse(BaseModel):
    id: str = Field(description="Output id (random, 32 hex digits)")
    status: Literal["success"] = "success"
    backend: Literal["sharp", "preview"]
    preview: bool = Field(description="True when the embedded preview backend made this scene")
    num_gaussians: int = Field(description="Gaussians in the scene the URLs serve (at most max_gaussians)")
    max_gaussians: int | None = Field(
        None, description="The density the URLs serve (the request's max_gaussians, else inference.max_gaussians); "
                          "null: every Gaussian. The full scene is what is cached")
    download_name: str | None = Field(
        None, description="The photo's file name without extension, cleaned: downloads are saved as "
                          "<download_name>.<format> (the URLs carry it as ?name=); null: named after the id")
    f_px: float = Field(description="Focal length used, in pixels of the uploaded photo")
    focal_source: str = Field(description="user, exif-35mm, exif-sensor, exif-focal or default")
    image_width: int
    image_height: int
    input_size: int = Field(description="Network input side actually used")
    input_size_reason: str | None = Field(
        None, description="Why this side (optimization.dynamic_input_size: the photo's resolution, the time budget)")
    draft: bool = Field(False, description="True for a progressive job's quick draft scene; the final one replaces it")
    timings: Timings
    processing_time: float = Field(description="Same as timings.total (kept for older scripts)")
    cache_hit: bool
    batch_size: int | None = Field(
        None, description="Photos computed in the same forward as this one (optimization.max_batch_size; "
                          "null on a cache hit)")
    url: str = Field(description="Download URL of the .ply (with ?name= and ?max_gaussians= when they apply)")
    viewer_url: str = Field(description="URL of the same scene as .spz (converted on first request)")
    downloads: dict[str, str] = Field(
        default_factory=dict,
        description="Format name -> URL, every export format (converted on first request; "
                    "carrying the answer's name and density; set ?max_gaussians=N for another density)")
    depth_url: str | None = Field(None, description="Depth map, 16-bit PNG in millimetres (0 = no data)")
    depth_preview_url: str | None = Field(None, description="The depth map colourised for viewing (PNG)")
    message: str | None = Field(None, description="For the preview: how to get the real model")


JobState = Literal["queued", "running", "done", "error", "cancelled"]


class JobAccepted(BaseModel):
    job_id: str
    state: JobState
    status_url: str


class JobError(BaseModel):
    status_code: int
    detail: str


class WebhookAttempt(BaseModel):
    attempt: int
    at: float = Field(description="Unix time the attempt started")
    status_code: int | None = Field(description="The receiver's HTTP status; null when unreachable")
    error: str | None = Field(description="Why the attempt failed; null when delivered")
    duration_s: float


class WebhookStatus(BaseModel):
    url: str
    state: Literal["pending", "retrying", "delivered", "failed"]
    attempts: list[WebhookAttempt]


class JobStatus(BaseModel):
    job_id: str
    state: JobState
    stage: Literal["queued", "loading", "drafting", "draft", "inference", "saving", "done", "error", "cancelled"]
    elapsed_s: float
    stage_elapsed_s: float | None = Field(None, description="Seconds in the current stage")
    progress: float | None = Field(
        None, description="0..1, estimated from this server's recent stage timings at the job's input size; "
                          "null while queued or before anything was measured; 1 when done")
    eta_s: float | None = Field(
        None, description="Estimated seconds until the scene is ready (same estimate; null when unknown)")
    draft: PredictResponse | None = Field(
        None, description="Progressive jobs: the draft scene, viewable from stage 'draft' until the result replaces it")
    result: PredictResponse | None = None
    error: JobError | None = None
    batch_id: str | None = Field(None, description="The batch this job belongs to, if any")
    webhook: WebhookStatus | None = Field(None, description="Delivery attempts of the job's webhook")


class ExportFormatInfo(BaseModel):
    name: str = Field(description="What follows the id in /api/outputs/{id}.{name}")
    suffix: str
    description: str


class EngineHealth(BaseModel):
    engine: Literal["local", "dramatiq"]
    queue_depth: int | None = Field(None, description="Jobs accepted and not finished (whole cluster)")
    redis: Literal["ok", "unreachable"] | None = Field(None, description="dramatiq engine only")
    workers: list[dict] | None = Field(None, description="Live workers (recent heartbeat), dramatiq only")
    jobs: dict[str, int] | None = Field(None, description="Unfinished jobs by state, dramatiq only")
    retries: int | None = None
    requeued: int | None = Field(None, description="Job restarts after a worker died")
    dead_lettered: int | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "starting", "degraded"]
    backend: Literal["sharp", "preview"]
    preview: bool
    device: str
    model_loaded: bool
    model_id: str
    version: str
    reason: str | None = Field(None, description="Why the preview backend is in use")
    message: str | None = Field(None, description="How to get the real model")
    formats: list[ExportFormatInfo] = Field(
        default_factory=list, description="Download formats: GET /api/outputs/{id}.{name}")
    max_gaussians: int | None = Field(
        None, description="Default density (inference.max_gaussians): the page's preset, null for all")
    input_size: int | None = Field(
        None, description="Network input side used when a request names none (inference.input_size)")
    max_pixels: int | None = Field(
        None, description="Largest photo accepted, in pixels (limits.max_pixels): the page warns before uploading")
    jobs: EngineHealth | None = Field(None, description="The job engine and, when shared, its cluster")


class CacheStats(BaseModel):
    enabled: bool
    size: int
    max_size: int
    hits: int
    misses: int
    hit_rate: float = Field(description="Hits over lookups, in percent")


class CacheCleared(BaseModel):
    cleared: int
    stats: CacheStats


class GpuReading(BaseModel):
    device_id: Any
    used_mb: float | None = None
    utilization_percent: float | None = None


class StatsResponse(BaseModel):
    uptime_s: float
    requests: int = Field(description="HTTP requests served")
    predictions: int = Field(description="Successful predictions (cache hits included)")
    predictions_failed: int
    average_time_s: float | None = Field(description="Mean wall time of successful predictions")
    active_tasks: int
    backend: str
    device: str
    worker_restarts: int
    gpu_memory: list[GpuReading]
    auto_tune: dict | None = None


class BatchItem(BaseModel):
    name: str = Field(description="The photo's file name (a zip member's base name)")
    job_id: str | None = Field(description="Its job; null when the photo was refused up front")
    state: JobState
    stage: Literal["queued", "loading", "inference", "saving", "done", "error", "cancelled"]
    num_gaussians: int | None = None
    url: str | None = Field(None, description="Download URL of its .ply once done")
    output_id: str | None = None
    error: str | None = Field(None, description="Why it was refused or failed")


class BatchCounts(BaseModel):
    queued: int
    running: int
    done: int
    error: int
    cancelled: int


class BatchStatus(BaseModel):
    batch_id: str
    state: Literal["queued", "running", "done", "cancelled"] = Field(
        description="done once every photo has ended (some may have failed: see counts)")
    total: int
    counts: BatchCounts
    items: list[BatchItem]
    skipped: list[str] = Field(description="Zip members that are not photos (not processed)")
    zip_url: str = Field(description="Streams a .zip of the finished .ply files plus manifest.json")
    webhook: WebhookStatus | None = None
