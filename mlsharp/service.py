"""One prediction, from uploaded bytes to a downloadable ``.ply``; shared by the sync and job routes.

Flow of :meth:`PredictionService.predict` (stages as the job API reports them):

* admission -- at most ``performance.max_concurrency`` predictions in flight, else 503 +
  Retry-After (taken by the caller, so a job is refused before it is created);
* fast path -- the SHA-256 of the uploaded *bytes* (+ settings + model) may name a cached result
  already: then no worker is waited for and nothing is decoded;
* ``queued`` -- waiting for a free worker slot;
* ``loading`` -- decoding in a thread (the event loop never decodes) and hashing the pixels; the
  cache key is the SHA-256 of the decoded pixels + f_px + input size + model identity;
* ``inference``/``saving`` -- reported by the worker process;
* ``done`` -- the output is indexed in the cache (or the bounded store of uncached outputs).

Failures map to HTTP codes here (:class:`ServiceError`) so both routes answer identically; any
file written for a failed request is deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger
from PIL import Image, UnidentifiedImageError

from mlsharp.cache import ResultCache, is_output_id, new_output_id, output_suffixes
from mlsharp.diskerrors import DiskTrouble, disk_problem
from mlsharp.config import MAX_SANE_INPUT_SIZE, Config, adjust_input_size
from mlsharp.jobs import Job, JobStore, JobStoreFull
from mlsharp.model_manager import PREVIEW_MESSAGE, ModelManager
from mlsharp.spz import ply_to_spz
from mlsharp.pool import TaskTimeout, WorkerCrashed
from mlsharp.worker import WorkerTask, run_task
from sharpnet.utils.photo import PhotoError, load_photo

F_PX_RANGE = (1.0, 1e6)
MAX_ALIASES = 4096
Progress = Callable[[str], None]


def _ignore(_: str) -> None:
    pass


_SIGNATURES = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF8", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (8, b"WEBP", "WebP"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
)


def sniff_format(data: bytes) -> str | None:
    """The image format the first bytes announce (only used to word an error precisely)."""
    for offset, magic, name in _SIGNATURES:
        if data[offset: offset + len(magic)] == magic:
            return name
    return None


class ServiceError(Exception):
    """An HTTP-shaped failure: status code, one-line detail, optional headers, metric label."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None,
                 outcome: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}
        self.outcome = outcome or ("bad_request" if status_code < 500 else "error")


def pixel_key(rgb: np.ndarray, f_px: float, side: int, identity: str) -> str:
    digest = hashlib.sha256(b"mlsharp-result-v1\0")
    digest.update(f"{rgb.shape}|{float(f_px).hex()}|{side}|{identity}\0".encode())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.hexdigest()


def upload_key(data: bytes, f_px: float | None, side: int, identity: str) -> str:
    digest = hashlib.sha256(b"mlsharp-upload-v1\0")
    digest.update(f"{None if f_px is None else float(f_px).hex()}|{side}|{identity}\0".encode())
    digest.update(data)
    return digest.hexdigest()


class PredictionService:
    def __init__(
        self,
        config: Config,
        models: ModelManager,
        cache: ResultCache,
        uncached: ResultCache,
        metrics: Any,
        jobs: JobStore | None = None,
    ) -> None:
        self.config = config
        self.models = models
        self.cache = cache
        self.uncached = uncached
        self.metrics = metrics
        self.jobs = jobs or JobStore(max(64, 4 * config.performance.max_concurrency))
        self.inflight = 0
        self.succeeded = 0
        self.failed = 0
        self.total_seconds = 0.0
        self._aliases: OrderedDict[str, str] = OrderedDict()
        self._job_tasks: set[asyncio.Task] = set()
        self._spz_locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ admission

    def _retry_after(self) -> str:
        average = self.total_seconds / self.succeeded if self.succeeded else 5.0
        workers = self.config.performance.max_workers
        return str(int(min(600, max(1, math.ceil(average * max(1, self.inflight) / workers)))))

    def admit(self) -> None:
        if self.inflight >= self.config.performance.max_concurrency:
            self.metrics.observe_predict("rejected")
            raise ServiceError(
                503,
                f"server busy: {self.inflight} predictions in progress "
                f"(performance.max_concurrency = {self.config.performance.max_concurrency}); retry later",
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
                422, f"input_size must be between 1 and {MAX_SANE_INPUT_SIZE}, got {input_size}"
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
            raise ServiceError(422, f"f_px must be between {low:g} and {high:g} pixels, got {f_px:g}")

    def _decode(self, data: bytes, f_px: float | None, side: int, identity: str) -> tuple[Any, str, float]:
        """Runs in a thread: header check, decode, pixel hash."""
        start = time.perf_counter()
        if not data:
            raise ServiceError(400, "the uploaded file is empty")
        limit = self.config.limits.max_pixels
        try:
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
        except Image.DecompressionBombError:
            raise ServiceError(413, f"the image has more pixels than allowed ({limit:,})") from None
        except UnidentifiedImageError:
            kind = sniff_format(data)
            if kind:
                raise ServiceError(
                    400, f"the upload looks like a {kind} file but cannot be decoded (damaged or truncated)"
                ) from None
            raise ServiceError(
                400, "the upload is not an image in a supported format (JPEG, PNG, WebP, HEIC, TIFF, ...)"
            ) from None
        except Exception:  # noqa: BLE001 - a damaged header: load_photo words it
            width = height = 0
        if width * height > limit:
            raise ServiceError(
                413, f"the image is {width}x{height} = {width * height:,} pixels; the limit is {limit:,} "
                "(limits.max_pixels)"
            )
        try:
            photo = load_photo(data, f_px=f_px, max_pixels=limit)
        except PhotoError as exc:
            message = str(exc).removeprefix("upload: ")
            code = 413 if "too large" in message or "exceeds the limit" in message else 400
            raise ServiceError(code, f"cannot use the upload as a photo: {message}") from None
        key = pixel_key(photo.rgb, photo.f_px, side, identity)
        return photo, key, time.perf_counter() - start

    # ------------------------------------------------------------------ prediction

    def _store(self) -> ResultCache:
        return self.cache if self.cache.enabled else self.uncached

    def _response(self, output_id: str, meta: dict, timings: dict, cache_hit: bool) -> dict:
        backend = meta["backend"]
        return {
            "id": output_id,
            "status": "success",
            "backend": backend,
            "preview": backend == "preview",
            "num_gaussians": meta["num_gaussians"],
            "f_px": meta["f_px"],
            "focal_source": meta["focal_source"],
            "image_width": meta["image_width"],
            "image_height": meta["image_height"],
            "input_size": meta["input_size"],
            "timings": {k: round(v, 4) for k, v in timings.items()},
            "processing_time": round(timings["total"], 4),
            "cache_hit": cache_hit,
            "url": f"/api/outputs/{output_id}.ply",
            "viewer_url": f"/api/outputs/{output_id}.spz",
            "message": PREVIEW_MESSAGE if backend == "preview" else None,
        }

    def _remember_alias(self, alias: str, key: str) -> None:
        self._aliases[alias] = key
        self._aliases.move_to_end(alias)
        while len(self._aliases) > MAX_ALIASES:
            self._aliases.popitem(last=False)

    async def predict(
        self, data: bytes, f_px: float | None = None, input_size: int | None = None,
        progress: Progress = _ignore,
    ) -> dict:
        """Admission must already be held by the caller (see :meth:`admit`)."""
        start = time.perf_counter()
        try:
            result = await self._predict(data, f_px, input_size, progress, start)
        except ServiceError as exc:
            self.failed += 1
            self.metrics.observe_predict(exc.outcome)
            raise
        except Exception as exc:
            self.failed += 1
            self.metrics.observe_predict("error")
            logger.exception("prediction failed unexpectedly")
            raise ServiceError(500, f"internal error during prediction ({type(exc).__name__})") from exc
        self.succeeded += 1
        self.total_seconds += result["timings"]["total"]
        self.metrics.observe_predict("success", result["timings"])
        progress("done")
        return result

    async def _predict(self, data: bytes, f_px: float | None, input_size: int | None,
                       progress: Progress, start: float) -> dict:
        self._check_f_px(f_px)
        side = self._side(input_size)
        spec = self.models.spec
        identity = spec.identity
        use_cache = self.cache.enabled

        alias = None
        if use_cache:
            alias = await asyncio.to_thread(upload_key, data, f_px, side, identity)
            key = self._aliases.get(alias)
            if key is not None and self.cache.peek(key) is not None:
                entry = self.cache.get(key)
                if entry is not None:
                    self.metrics.cache_lookup(True)
                    total = time.perf_counter() - start
                    timings = {"image_load": 0.0, "inference": 0.0, "ply_save": 0.0, "total": total}
                    return self._response(entry.output_id, entry.meta, timings, cache_hit=True)

        progress("queued")
        pool = self.models.pool
        if pool is None:
            raise ServiceError(503, "the model is not loaded yet; retry in a moment",
                               headers={"Retry-After": "5"}, outcome="rejected")
        async with pool.slot() as slot:
            progress("loading")
            photo, key, image_load = await asyncio.to_thread(self._decode, data, f_px, side, identity)
            meta = {
                "backend": spec.name,
                "num_gaussians": 0,
                "f_px": photo.f_px,
                "focal_source": photo.focal_source,
                "image_width": photo.width,
                "image_height": photo.height,
                "input_size": side,
            }
            if use_cache:
                if alias is not None:
                    self._remember_alias(alias, key)
                entry = self.cache.get(key)
                self.metrics.cache_lookup(entry is not None)
                if entry is not None:
                    total = time.perf_counter() - start
                    timings = {"image_load": image_load, "inference": 0.0, "ply_save": 0.0, "total": total}
                    return self._response(entry.output_id, entry.meta, timings, cache_hit=True)

            store = self._store()
            output_id = new_output_id()
            output_path = store.path_for(output_id)
            task = WorkerTask(photo.rgb, photo.f_px, side, str(output_path))
            del photo
            try:
                result = await pool.run_on(
                    slot, run_task, task, on_stage=progress,
                    timeout=self.config.performance.predict_timeout,
                )
            except WorkerCrashed as exc:
                self._discard(store, output_id)
                raise ServiceError(500, f"{exc}; the worker was restarted, please retry") from None
            except TaskTimeout as exc:
                self._discard(store, output_id)
                raise ServiceError(504, f"{exc} (performance.predict_timeout); the worker was restarted") from None
            except RuntimeError as exc:
                self._discard(store, output_id)
                raise ServiceError(500, f"prediction failed: {exc}") from None
            except OSError as exc:  # the worker could not write the scene
                self._discard(store, output_id)
                reason = disk_problem(exc, store.directory)
                if reason is None:
                    raise
                raise ServiceError(507, reason, outcome="error") from None
            except BaseException:
                self._discard(store, output_id)
                raise

        meta["num_gaussians"] = result.num_gaussians
        try:
            stored = store.put(key if use_cache else output_id, output_id, meta)
        except DiskTrouble as exc:
            self._discard(store, output_id)
            raise ServiceError(507, exc.detail, outcome="error") from None
        total = time.perf_counter() - start
        timings = {
            "image_load": image_load,
            "inference": result.inference,
            "ply_save": result.ply_save,
            "total": total,
        }
        if result.forward is not None:
            timings["forward"] = result.forward
        return self._response(stored.output_id, stored.meta, timings, cache_hit=False)

    @staticmethod
    def _discard(store: ResultCache, output_id: str) -> None:
        for suffix in output_suffixes():
            store.path_for(output_id, suffix).unlink(missing_ok=True)

    # ------------------------------------------------------------------ jobs

    def submit_job(self, data: bytes, f_px: float | None, input_size: int | None) -> Job:
        self.admit()
        try:
            job = self.jobs.add(Job())
        except JobStoreFull:
            self.release()
            raise ServiceError(503, "too many jobs are being tracked; retry later",
                               headers={"Retry-After": self._retry_after()}, outcome="rejected") from None

        async def run() -> None:
            try:
                result = await self.predict(data, f_px, input_size, progress=job.advance)
                job.succeed(result)
            except ServiceError as exc:
                job.fail(exc.status_code, exc.detail)
            except asyncio.CancelledError:
                job.fail(503, "the server shut down before this job finished")
                raise
            finally:
                self.release()

        task = asyncio.create_task(run(), name=f"job-{job.id}")
        self._job_tasks.add(task)
        task.add_done_callback(self._job_tasks.discard)
        return job

    def job(self, job_id: str) -> Job:
        """The tracked job ``job_id``; a 404 when unknown or forgotten."""
        job = self.jobs.get(job_id) if is_output_id(job_id) else None
        if job is None:
            raise ServiceError(404, f"no job with id {job_id!r} (unknown, or finished long ago)")
        return job

    async def cancel_jobs(self, grace: float = 2.0) -> None:
        tasks = list(self._job_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    # ------------------------------------------------------------------ outputs

    def _store_of(self, output_id: str) -> ResultCache | None:
        if not is_output_id(output_id):
            return None
        for store in (self.cache, self.uncached):
            if store.find_output(output_id) is not None:
                return store
        return None

    def find_output(self, output_id: str, suffix: str = ".ply") -> Path | None:
        store = self._store_of(output_id)
        if store is None:
            return None
        path = store.path_for(output_id, suffix)
        return path if path.is_file() else None

    def output_file(self, output_id: str, suffix: str) -> Path:
        """Like :meth:`find_output`, but a missing output is a 404."""
        path = self.find_output(output_id, suffix)
        if path is None:
            raise ServiceError(404, "no output with this id (unknown, or evicted from the cache)")
        return path

    async def spz_for(self, output_id: str) -> Path:
        """The .spz beside the .ply, converted on first request (atomically, once per id)."""
        store = self._store_of(output_id)
        ply = self.output_file(output_id, ".ply")
        spz = ply.with_suffix(".spz")
        if spz.is_file():
            return spz
        lock = self._spz_locks.setdefault(output_id, asyncio.Lock())
        try:
            async with lock:
                if spz.is_file():
                    return spz
                tmp = spz.with_name(f".{spz.name}.{uuid.uuid4().hex[:8]}.part")
                try:
                    await asyncio.to_thread(ply_to_spz, ply, tmp)
                    placed = store.attach(output_id, ".spz", tmp)  # recorded with its entry
                    if placed is None:
                        raise ServiceError(404, f"output {output_id} was evicted from the cache meanwhile")
                    return placed
                except ServiceError:
                    raise
                except Exception as exc:  # noqa: BLE001 - converter errors become a 500 detail
                    reason = exc.detail if isinstance(exc, DiskTrouble) else disk_problem(exc, store.directory)
                    if reason:
                        raise ServiceError(507, reason) from None
                    logger.exception("spz conversion of {} failed", output_id)
                    raise ServiceError(500, f"could not convert to .spz ({type(exc).__name__})") from None
                finally:
                    tmp.unlink(missing_ok=True)
        finally:
            if not lock.locked():
                self._spz_locks.pop(output_id, None)

    def stats(self) -> dict[str, Any]:
        return {
            "predictions": self.succeeded,
            "predictions_failed": self.failed,
            "average_time_s": round(self.total_seconds / self.succeeded, 4) if self.succeeded else None,
            "active_tasks": self.inflight,
        }
