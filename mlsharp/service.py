"""One prediction, from uploaded bytes to a downloadable ``.ply``; shared by the sync and job routes.

The service decides everything that must be refused *before* a job exists, then hands the job
to the engine (:mod:`mlsharp.engines`, injected at start):

* admission -- at most ``performance.max_concurrency`` predictions in flight here (and, for a
  shared engine, in the whole cluster), else 503 + Retry-After;
* validation -- focal length and input size ranges, and a header-only probe of the upload
  (:func:`mlsharp.intake.probe`: empty, not an image, too many pixels) -> 4xx, nothing enqueued;
* fast path -- the SHA-256 of the uploaded *bytes* (+ settings + model) may already name a cached
  result: then no worker is involved and nothing is decoded;
* otherwise the engine runs the job: ``queued`` -> ``loading`` (decode in the worker) ->
  ``inference`` -> ``saving`` -> ``done`` (see :mod:`mlsharp.engines.flow`).

Failures are :class:`mlsharp.errors.ServiceError` so both routes answer identically.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from loguru import logger

from mlsharp.redact import clip
from mlsharp.output_ids import is_output_id, new_output_id
from mlsharp.delivery import Delivery
from mlsharp.diskerrors import DiskTrouble, disk_problem
from mlsharp.config import MAX_SANE_INPUT_SIZE, Config, adjust_input_size, snap_input_size
from mlsharp.downloads import Download, download_tail, remote_download
from mlsharp.engines import JobEngine, JobOptions
from mlsharp.engines.flow import hit_response
from mlsharp.errors import ServiceError
from mlsharp.exports import MAX_GAUSSIANS, EntryGone, Exporter
from mlsharp.field_labels import label
from mlsharp.input_size import choose_side
from mlsharp.intake import BadInput, probe, upload_key
from mlsharp.jobs import Job
from mlsharp.progress import JobPlan, StageTimings, estimate
from mlsharp.storage import StorageError
from sharpnet.config import F_PX_RANGE

CHUNK = 1 << 20
MAX_PLANS = 4096  # jobs whose progress can be estimated (older ones answer null)


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def check_max_gaussians(value: int) -> None:
    """A 422 unless ``value`` is a density a scene can be reduced to."""
    if not 1 <= value <= MAX_GAUSSIANS:
        raise ServiceError(422, f"{label('max_gaussians')} must be between 1 and {MAX_GAUSSIANS:,}, got {value:,}")


__all__ = ["F_PX_RANGE", "PredictionService", "ServiceError"]


class PredictionService:
    """Everything decided before a job exists (admission, validation, the bytes-level cache) and the
    outputs' downloads after, the same for the sync and job routes and for both engines."""

    def __init__(self, config: Config, engine: JobEngine, metrics: Any, identity: Any, device: str = "cpu") -> None:
        """``identity()`` names the model for upload keys (it can change after auto-tune); ``device``
        decides whether jobs are progressive by default (on for the CPU)."""
        self.config = config
        self.device = device
        self.engine = engine
        self.metrics = metrics
        self._identity = identity
        self.inflight = 0
        self.succeeded = 0
        self.failed = 0
        self.total_seconds = 0.0
        self.exporter = Exporter()
        self.timings = StageTimings()  # recent stage durations: the jobs' progress and ETA
        self._plans: OrderedDict[str, JobPlan] = OrderedDict()  # job id -> what it computes

    # ------------------------------------------------------------------ admission

    def _retry_after(self) -> str:
        average = self.total_seconds / self.succeeded if self.succeeded else 5.0
        workers = self.config.performance.max_workers
        waiting = max(1, self.inflight, self.engine.queue_depth())
        return str(int(min(600, max(1, math.ceil(average * waiting / workers)))))

    def admit(self) -> None:
        limit = self.config.performance.max_concurrency
        depth = max(self.inflight, self.engine.queue_depth())
        if depth >= limit:
            self.metrics.observe_predict("rejected")
            raise ServiceError(
                503,
                f"Server busy: {depth} photos in progress, the most it takes at once; try again shortly",
                headers={"Retry-After": self._retry_after()},
                outcome="rejected",
            )
        self.inflight += 1
        self.metrics.active_tasks.set(self.inflight)

    def release(self) -> None:
        self.inflight = max(0, self.inflight - 1)
        self.metrics.active_tasks.set(self.inflight)

    # ------------------------------------------------------------------ validation

    def _side(self, input_size: int | None) -> int:
        if input_size is None:
            return self.config.inference.side
        if not 1 <= input_size <= MAX_SANE_INPUT_SIZE:
            raise ServiceError(
                422, f"{label('input_size')} must be between 1 and {MAX_SANE_INPUT_SIZE}, got {input_size}"
            )
        (side, _), note = adjust_input_size((input_size, input_size))
        if note:
            logger.info("request {}", note.replace("inference.input_size", "input_size"))
        return side

    @staticmethod
    def _check_f_px(f_px: float | None) -> None:
        if f_px is None:
            return
        low, high = F_PX_RANGE
        if not math.isfinite(f_px) or not low <= f_px <= high:
            raise ServiceError(422, f"{label('f_px')} must be between {low:,.0f} and {high:,.0f} pixels, got {f_px:g}")

    def _density(self, delivery: Delivery) -> Delivery:
        """``delivery`` with the density its URLs serve: the request's, else ``inference.max_gaussians``."""
        wanted = delivery.max_gaussians
        if wanted is None:
            return replace(delivery, max_gaussians=self.config.inference.max_gaussians)
        check_max_gaussians(wanted)
        return delivery

    async def _options(self, data: bytes, f_px: float | None, input_size: int | None,
                       delivery: Delivery) -> JobOptions:
        self._check_f_px(f_px)
        delivery = self._density(delivery)
        side = self._side(input_size)
        limit = self.config.limits.max_pixels
        try:
            size = await asyncio.to_thread(probe, data, limit)
        except BadInput as exc:
            raise ServiceError(exc.status_code, exc.detail) from None
        reason = None
        if self.config.optimization.dynamic_input_size and input_size is None:
            side, reason = choose_side(side, size, self.config.optimization, self._measured())
        use_cache = self.engine.cache.enabled
        alias = await asyncio.to_thread(upload_key, data, f_px, side, self._identity()) if use_cache else None
        return JobOptions(f_px=f_px, side=side, max_pixels=limit, use_cache=use_cache, upload_key=alias,
                          side_reason=reason, delivery=delivery)

    def _measured(self) -> tuple[int, float] | None:
        """Auto-tune's (input side, mean forward seconds) when it ran in this server."""
        tuned = getattr(getattr(getattr(self.engine, "models", None), "status", None), "auto_tune", None)
        if not tuned or not tuned.get("mean_s"):
            return None
        return int(tuned["input_size"]), float(tuned["mean_s"])

    def _known(self, options: JobOptions, start: float) -> dict | None:
        if options.upload_key is None:
            return None
        entry = self.engine.lookup_upload(options.upload_key)
        if entry is None:
            return None
        self.metrics.cache_lookup(True)
        return hit_response(entry, start, delivery=options.delivery)

    # ------------------------------------------------------------------ outcomes

    def job_finished(self, result: dict | None, error: ServiceError | None) -> None:
        """The engine's report of a job it ran (counts and metrics)."""
        if error is not None:
            if error.outcome != "cancelled":
                self.failed += 1
                self.metrics.observe_predict(error.outcome)
            return
        assert result is not None
        self.timings.record(result)
        self._succeeded(result)

    def _succeeded(self, result: dict) -> None:
        self.succeeded += 1
        self.total_seconds += result["timings"]["total"]
        self.metrics.observe_predict("success", result["timings"])

    def _refused(self, exc: ServiceError) -> None:
        self.failed += 1
        self.metrics.observe_predict(exc.outcome)

    # ------------------------------------------------------------------ prediction

    async def _validated(self, data: bytes, f_px: float | None, input_size: int | None,
                         delivery: Delivery) -> tuple[Any, dict | None]:
        """The upload's job options (a refusal is counted, then raised) and the result it already
        names, if any (counted as a success): the sync route and the job route answer alike."""
        start = time.perf_counter()
        try:
            options = await self._options(data, f_px, input_size, delivery)
        except ServiceError as exc:
            self._refused(exc)
            raise
        known = self._known(options, start)
        if known is not None:
            self._succeeded(known)
        return options, known

    async def predict(self, data: bytes, f_px: float | None = None, input_size: int | None = None,
                      delivery: Delivery = Delivery()) -> dict:
        """Admission must already be held by the caller (see :meth:`admit`). ``delivery``: the
        request's download name and density (see :mod:`mlsharp.delivery`)."""
        options, known = await self._validated(data, f_px, input_size, delivery)
        if known is not None:
            return known
        job = await self.engine.submit(new_output_id(), options, data)
        return await self.engine.result(job.id, timeout=None)

    async def submit_job(self, data: bytes, f_px: float | None, input_size: int | None,
                         busy_check: bool = True, delivery: Delivery = Delivery()) -> Job:
        """Admit, validate and enqueue; a repeat upload is a job that is already done.

        A batch passes ``busy_check=False``: its photos are meant to wait in the queue (bounded by
        ``batch.max_files`` and the caller's cap), not to be refused past ``max_concurrency``.
        """
        if busy_check:
            self.admit()
        else:
            self.inflight += 1
        try:
            options, known = await self._validated(data, f_px, input_size, delivery)
            if known is not None:
                return await self.engine.submit_done(new_output_id(), known)
            options = replace(options, draft_side=self.draft_side(options.side))
            job = await self.engine.submit(new_output_id(), options, data)
            self._plan(job.id, JobPlan(self._backend(), options.side, options.draft_side))
            return job
        finally:
            self.release()

    def _backend(self) -> str:
        return "preview" if str(self._identity()).startswith("preview") else "sharp"

    def _plan(self, job_id: str, plan: JobPlan) -> None:
        """Remember what a job computes, for its progress estimate (bounded like a job store)."""
        self._plans[job_id] = plan
        while len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)

    def draft_side(self, side: int) -> int | None:
        """The side of a job's draft scene, or None when the job is not progressive.

        ``optimization.progressive`` null means on for the CPU (a 1536 forward takes minutes there,
        a 512 one a tenth of that) and off on GPUs (the final scene comes in about a second anyway)
        and for the preview backend, which is instant. Set explicitly it is obeyed whatever the
        backend (the page's draft-then-final flow can be tried without the model). A job already
        at the draft side never drafts.
        """
        opt = self.config.optimization
        if opt.progressive is not None:
            wanted = opt.progressive
        else:
            wanted = str(self.device).startswith("cpu") and self._backend() != "preview"
        draft = snap_input_size(opt.progressive_size)
        return draft if wanted and draft < side else None

    def job(self, job_id: str) -> dict[str, Any]:
        """The job's snapshot with its estimated ``progress`` and ``eta_s`` (:mod:`mlsharp.progress`);
        a 404 when unknown or forgotten."""
        snapshot = self.engine.status(job_id) if is_output_id(job_id) else None
        if snapshot is None:
            raise ServiceError(404, f"no job with id {clip(job_id)!r} (unknown, or finished long ago)")
        return {**snapshot, **estimate(snapshot, self._plans.get(job_id), self.timings)}

    def cancel(self, job_id: str) -> bool:
        return is_output_id(job_id) and self.engine.cancel(job_id)

    # ------------------------------------------------------------------ outputs

    def _store_of(self, output_id: str) -> Any:
        """The result index holding ``output_id`` (cache or uncached outputs), or ``None``."""
        return self.engine.find_output(output_id) if is_output_id(output_id) else None

    def find_output(self, output_id: str, suffix: str = ".ply") -> Path | None:
        store = self._store_of(output_id)
        if store is None:
            return None
        path = store.path_for(output_id, suffix)
        return path if path is not None and path.is_file() else None

    def scene_chunks(self, output_id: str) -> Callable[[], Iterator[bytes]] | None:
        """The stored ``.ply`` as chunks read when called, wherever it lives (a folder here or a
        remote store); ``None`` when the output is unknown. The batch zip streams from this."""
        store = self._store_of(output_id)
        if store is None:
            return None
        path = store.path_for(output_id, ".ply")
        if path is not None:
            return (lambda: file_chunks(path)) if path.is_file() else None
        return lambda: store.store.stream(store.object_name(output_id, ".ply"))

    def output_file(self, output_id: str, suffix: str) -> Path:
        """Like :meth:`find_output`, but a missing output is a 404."""
        path = self.find_output(output_id, suffix)
        if path is None:
            raise ServiceError(404, "no output with this id (unknown, or evicted from the cache)")
        return path

    async def export_for(self, output_id: str, fmt: str, max_gaussians: int | None = None) -> Path:
        """The output in ``fmt`` (at most ``max_gaussians`` Gaussians), converted on the first
        request and recorded with its cache entry (see :mod:`mlsharp.exports`)."""
        if max_gaussians is not None:
            check_max_gaussians(max_gaussians)
        return await self._derive(output_id, fmt, self.exporter.derived, fmt, max_gaussians)

    async def depth_for(self, output_id: str, suffix: str) -> Path:
        """The output's depth map PNG (16-bit millimetres, or the colourised preview)."""
        return await self._derive(output_id, suffix, self.exporter.depth, suffix)

    async def _derive(self, output_id: str, what: str, make: Any, *args: Any) -> Path:
        store = self._store_of(output_id)
        self.output_file(output_id, ".ply")  # a 404 for an unknown output
        try:
            return await make(store, output_id, *args)
        except ValueError as exc:
            raise ServiceError(404, str(exc)) from None
        except EntryGone:
            raise ServiceError(404, f"output {output_id} was evicted from the cache meanwhile") from None
        except Exception as exc:  # noqa: BLE001 - converter errors become a 500 detail
            reason = exc.detail if isinstance(exc, DiskTrouble) else disk_problem(exc, store.directory)
            if reason:
                raise ServiceError(507, reason) from None
            logger.exception("making {} of {} failed", what, output_id)
            raise ServiceError(500, f"could not make the {what} file ({type(exc).__name__})") from None

    async def download(self, output_id: str, fmt: str, delivery: Delivery = Delivery()) -> Download:
        """What the download route sends: a file here, or (remote store) a stream or a redirect,
        saved under ``delivery``'s name (the output id without one) at its density."""
        from sharpnet.io.registry import get_format

        store = self._store_of(output_id)
        if store is None:
            raise ServiceError(404, "no output with this id (unknown, or evicted from the cache)")
        spec = get_format(fmt)
        if store.path_for(output_id, ".ply") is not None:  # a folder on this machine
            path = await self.export_for(output_id, fmt, delivery.max_gaussians)
            disposition = delivery.disposition(output_id, download_tail(spec, delivery.max_gaussians))
            return Download(disposition, spec.media_type, path=path)
        storage = self.config.storage
        try:
            return await remote_download(store, output_id, fmt, delivery,
                                         storage.downloads == "redirect", storage.presign_expiry_s)
        except EntryGone:
            raise ServiceError(404, f"output {output_id} was evicted from the cache meanwhile") from None
        except StorageError as exc:
            raise ServiceError(502, str(exc)) from None

    def stats(self) -> dict[str, Any]:
        return {
            "predictions": self.succeeded,
            "predictions_failed": self.failed,
            "average_time_s": round(self.total_seconds / self.succeeded, 4) if self.succeeded else None,
            "active_tasks": max(self.inflight, self.engine.queue_depth()),
        }
