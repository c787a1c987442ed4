"""The ``local`` engine: jobs run in this process's spawn pool (the laptop default).

Jobs are asyncio tasks over :class:`mlsharp.jobs.JobStore` (in memory; a restart forgets them, as
it always did). A photo in flight is a file under the run folder, deleted when its job ends; the
worker reads it from there, so the server never decodes a photo itself. Both steps of a job run
in the same pool slot, which is what keeps the decoded photo in that worker between them; with
``optimization.max_batch_size`` above 1, jobs waiting for a slot may share one and its forward
(:mod:`mlsharp.engines.batching`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from loguru import logger

from mlsharp.output_ids import output_suffixes
from mlsharp.diskerrors import DiskTrouble, disk_problem
from mlsharp.engines import JobOptions, JobSpec
from mlsharp.engines.batching import Gatherer
from mlsharp.engines.flow import AliasedIndex, draft_fields, run_job
from mlsharp.errors import ServiceError
from mlsharp.intake import BadInput
from mlsharp.jobs import Job, JobStore, JobStoreFull
from mlsharp.pool import TaskTimeout, WorkerCrashed
from mlsharp.storage import S3Settings
from mlsharp.storage.directory import DirectoryStore


class LocalEngine:
    """Jobs in this process's own worker pool: the laptop default, with nothing to install."""

    name = "local"

    def __init__(self, config: Any, *, models: Any, cache: Any, uncached: Any, run_dir: Path,
                 on_lookup: Any = None, s3: S3Settings | None = None) -> None:
        self.config = config
        self.models = models
        self.cache = AliasedIndex(cache)
        self.uncached = uncached
        self.photos = DirectoryStore(Path(run_dir) / "photos")
        # room for a full batch queued behind the usual jobs (batch.max_files)
        self.jobs = JobStore(max(64, 4 * config.performance.max_concurrency) + config.batch.max_files)
        self.s3 = s3
        self._on_finish: Any = lambda result, error: None
        self._on_lookup = on_lookup or (lambda hit: None)
        self._tasks: dict[str, asyncio.Task] = {}
        self.gatherer = Gatherer(lambda: self.models.pool, config.optimization.max_batch_size, s3=s3,
                                 timeout=config.performance.predict_timeout, discard=self._discard)

    def on_finish(self, listener: Any) -> None:
        """``listener(result, error)`` hears every job this engine ends (counts, metrics)."""
        self._on_finish = listener

    def preflight(self) -> str | None:
        return None  # nothing outside this process to reach

    async def start(self) -> None:
        self.photos.directory.mkdir(parents=True, exist_ok=True)
        await self.models.start()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        await self.gatherer.close()
        await self.models.stop()

    # ------------------------------------------------------------------ jobs

    def _output_uri(self, job_id: str, use_cache: bool) -> str:
        store = self.cache.cache if use_cache else self.uncached
        return str(store.path_for(job_id))

    @staticmethod
    def _not_loaded() -> ServiceError:
        return ServiceError(503, "the model is not loaded yet; retry in a moment",
                            headers={"Retry-After": "5"}, outcome="rejected")

    async def submit(self, job_id: str, options: JobOptions, photo: bytes) -> Job:
        if self.models.pool is None:
            raise self._not_loaded()
        try:
            job = self.jobs.add(Job(id=job_id))
        except JobStoreFull:
            raise ServiceError(503, "too many jobs are being tracked; retry later",
                               headers={"Retry-After": "5"}, outcome="rejected") from None
        await asyncio.to_thread(self.photos.put_bytes, job_id, photo)
        spec = JobSpec.for_options(
            options, job_id=job_id, photo=self.photos.uri(job_id), output=self._output_uri(job_id, options.use_cache),
            **draft_fields(options.draft_side, lambda out: self._output_uri(out, options.use_cache)))
        task = asyncio.create_task(self._run(job, spec), name=f"job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))
        return job

    async def submit_done(self, job_id: str, result: dict) -> Job:
        """A job answered from the cache before it needed a worker."""
        job = Job(id=job_id)
        job.succeed(result)
        try:
            return self.jobs.add(job)
        except JobStoreFull:
            raise ServiceError(503, "too many jobs are being tracked; retry later",
                               headers={"Retry-After": "5"}, outcome="rejected") from None

    async def _run(self, job: Job, spec: JobSpec) -> None:
        start = time.perf_counter()
        try:
            result = await self._attempt(job, spec, start)
        except ServiceError as exc:
            job.fail(exc.status_code, exc.detail)
            self._on_finish(None, exc)
        except asyncio.CancelledError:
            if job.cancel_reason == "cancelled":
                job.cancelled()
            else:
                job.fail(503, "the server shut down before this job finished")
            self._on_finish(None, ServiceError(503, "cancelled", outcome="cancelled"))
            raise
        except Exception as exc:  # noqa: BLE001 - one job's bug must not kill the engine
            logger.exception("job {} failed unexpectedly", job.id)
            error = ServiceError(500, f"internal error during prediction ({type(exc).__name__})")
            job.fail(error.status_code, error.detail)
            self._on_finish(None, error)
        else:
            job.succeed(result)
            self._on_finish(result, None)
        finally:
            self.photos.delete(job.id)

    async def _attempt(self, job: Job, spec: JobSpec, start: float) -> dict:
        if self.models.pool is None:
            raise self._not_loaded()
        group, member = await self.gatherer.join(spec, job.advance)  # a worker, maybe shared (a batch)
        cancelled = False
        try:
            try:
                return await run_job(spec, group.steps(member), self.cache, self.uncached, job.advance, start,
                                     on_lookup=self._on_lookup, on_draft=job.publish_draft)
            except BadInput as exc:
                raise ServiceError(exc.status_code, exc.detail) from None
            except WorkerCrashed as exc:
                self._discard(spec)
                raise ServiceError(500, f"{exc}; the worker was restarted, please retry") from None
            except TaskTimeout as exc:
                self._discard(spec)
                raise ServiceError(504, f"{exc}, the most this server allows; the worker was restarted") from None
            except RuntimeError as exc:
                self._discard(spec)
                raise ServiceError(500, f"prediction failed: {exc}") from None
            except DiskTrouble as exc:  # indexing the finished output failed
                self._discard(spec)
                raise ServiceError(507, exc.detail, outcome="error") from None
            except OSError as exc:  # the worker could not write the scene
                self._discard(spec)
                reason = disk_problem(exc, Path(spec.output).parent)
                if reason is None:
                    raise
                raise ServiceError(507, reason, outcome="error") from None
            except asyncio.CancelledError:
                self._discard(spec)
                cancelled = job.cancel_reason == "cancelled"  # stop the work too, not only the waiting
                raise
            except BaseException:
                self._discard(spec)
                raise
        finally:
            group.leave(member, cancelled)

    def _discard(self, spec: JobSpec) -> None:
        final = Path(spec.output)
        for suffix in output_suffixes():
            final.with_suffix(suffix).unlink(missing_ok=True)

    def status(self, job_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(job_id)
        return job.snapshot() if job is not None else None

    async def result(self, job_id: str, timeout: float | None = None) -> dict[str, Any]:
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait([task], timeout=timeout)
        job = self.jobs.get(job_id)
        if job is None:
            raise ServiceError(404, f"no job with id {job_id!r}")
        if job.error is not None:
            raise ServiceError(job.error["status_code"], job.error["detail"])
        if job.result is None:
            raise ServiceError(504, "the job did not finish in time")
        return job.result

    def cancel(self, job_id: str) -> bool:
        job, task = self.jobs.get(job_id), self._tasks.get(job_id)
        if job is None or job.done or task is None:
            return False
        job.cancel_reason = "cancelled"
        task.cancel()
        return True

    def queue_depth(self) -> int:
        return len(self._tasks)

    def lookup_upload(self, upload_key: str) -> Any:
        return self.cache.lookup_alias(upload_key)

    def find_output(self, output_id: str) -> Any:
        for index in (self.cache.cache, self.uncached):
            if index.find_output(output_id) is not None:
                return index
        return None

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "queue_depth": self.queue_depth()}
