"""The ``dramatiq`` engine, API side: enqueue on Redis, answer from Redis, never run the model.

A job is: the photo written to the in-flight store (``storage.inflight``), a hash in Redis
(:class:`mlsharp.engines.redis_jobs.RedisJobs`), and one Dramatiq message carrying only the
:class:`mlsharp.engines.JobSpec` (ids, options, URIs). ``python app.py worker`` processes run it.
Because all state is in Redis and the store, any API server answers for any job, and restarting
one loses nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loguru import logger

from mlsharp.engines import JobOptions, JobSpec
from mlsharp.engines.cluster import (ACTOR, QUEUE, connect, indexes, make_broker, redis_problem,
                                     settings_from, stores)
from mlsharp.engines.flow import draft_fields
from mlsharp.engines.redis_jobs import RedisJobs
from mlsharp.errors import ServiceError
from mlsharp.jobs import Job

POLL_S = (0.02, 0.5)


def _unreachable_is_503(method: Any) -> Any:
    """Redis down is the cluster being unavailable for a moment (503), not a server bug (500)."""
    import functools
    import inspect

    from redis.exceptions import RedisError

    def refused() -> ServiceError:
        return ServiceError(503, "the job queue (Redis) is unreachable; retry later",
                            headers={"Retry-After": "5"}, outcome="rejected")

    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except RedisError:
                raise refused() from None
        return guarded_async

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except RedisError:
            raise refused() from None
    return guarded  # result(): first and longest wait between looks at the job's state


class DramatiqEngine:
    """The API side of the distributed engine: it enqueues and answers from Redis, and never loads the model."""

    name = "dramatiq"

    def __init__(self, config: Any, *, models: Any = None, run_dir: Any = None, on_lookup: Any = None,
                 **_: Any) -> None:
        self.config = config
        self.settings = settings_from(config)
        self.client = connect(self.settings)
        self.jobs = RedisJobs(self.client, self.settings.namespace, self.settings.job_ttl_s)
        self.results, self.photos = stores(self.settings)
        self.cache, self.uncached = indexes(self.client, self.settings, self.results)
        self.broker: Any = None
        self._on_finish: Any = lambda result, error: None

    def on_finish(self, listener: Any) -> None:
        self._on_finish = listener

    def preflight(self) -> str | None:
        """Why this engine cannot start (one line), checked before the server binds its port."""
        return redis_problem(self.settings, self.client)

    async def start(self) -> None:
        problem = await asyncio.to_thread(self.preflight)
        if problem:
            raise ServiceError(503, problem)
        self.broker = make_broker(self.settings)
        logger.info("job engine: dramatiq on {} (queue {}), results in {}", self.settings.redis_url, QUEUE,
                    self.results.root)

    async def stop(self) -> None:
        if self.broker is not None:
            self.broker.close()
            self.broker = None

    # ------------------------------------------------------------------ jobs

    def _admit(self) -> None:
        depth = self.jobs.depth()
        if depth >= self.settings.max_queue:
            raise ServiceError(503, f"Server busy: {depth} photos waiting or in progress, the most the cluster "
                                    "queues; try again shortly",
                               headers={"Retry-After": str(max(1, min(600, depth)))}, outcome="rejected")

    @_unreachable_is_503
    async def submit(self, job_id: str, options: JobOptions, photo: bytes) -> Job:
        from dramatiq import Message

        self._admit()
        await asyncio.to_thread(self.photos.put_bytes, job_id, photo)
        index = self.cache if options.use_cache else self.uncached
        spec = JobSpec.for_options(options, job_id=job_id, photo=self.photos.uri(job_id),
                                   output=index.store.uri(f"{job_id}.ply"),
                                   **draft_fields(options.draft_side, lambda out: index.store.uri(f"{out}.ply")))
        self.jobs.create(job_id, spec.to_dict())
        message = Message(queue_name=QUEUE, actor_name=ACTOR, args=(spec.to_dict(),), kwargs={}, options={})
        try:
            await asyncio.to_thread(self.broker.enqueue, message)
        except Exception as exc:  # noqa: BLE001 - never leave a job nobody will run
            self.jobs.fail(job_id, 503, f"could not enqueue the job ({type(exc).__name__})")
            self.photos.delete(job_id)
            raise ServiceError(503, "the job queue is unreachable; retry later",
                               headers={"Retry-After": "5"}) from None
        return Job(id=job_id)

    @_unreachable_is_503
    async def submit_done(self, job_id: str, result: dict) -> Job:
        self.jobs.create_done(job_id, result)
        job = Job(id=job_id)
        job.succeed(result)
        return job

    @_unreachable_is_503
    def status(self, job_id: str) -> dict[str, Any] | None:
        snapshot = self.jobs.snapshot(job_id)
        if snapshot is None:
            return None
        snapshot.pop("worker", None)
        snapshot.pop("attempts", None)
        return snapshot

    @_unreachable_is_503
    async def result(self, job_id: str, timeout: float | None = None) -> dict[str, Any]:
        end = None if timeout is None else time.monotonic() + timeout
        wait = POLL_S[0]
        while True:
            snapshot = await asyncio.to_thread(self.jobs.snapshot, job_id)
            if snapshot is None:
                raise ServiceError(404, f"no job with id {job_id!r}")
            if snapshot["state"] == "done":
                self._on_finish(snapshot["result"], None)
                return snapshot["result"]
            if snapshot["state"] == "error":
                error = ServiceError(snapshot["error"]["status_code"], snapshot["error"]["detail"])
                self._on_finish(None, error)
                raise error
            if snapshot["state"] == "cancelled":  # DELETE /api/jobs/{id}: finished, no result
                raise ServiceError(499, "the job was cancelled", outcome="cancelled")
            if end is not None and time.monotonic() >= end:
                raise ServiceError(504, "the job did not finish in time")
            await asyncio.sleep(wait)
            wait = min(POLL_S[1], wait * 1.5)

    @_unreachable_is_503
    def cancel(self, job_id: str) -> bool:
        """Marks the job finished; a worker that has not started it skips it, one that has is not
        interrupted (its result is then discarded by the finish-once rule)."""
        finished = self.jobs.cancel(job_id)
        if finished:
            self.photos.delete(job_id)
        return finished

    @_unreachable_is_503
    def queue_depth(self) -> int:
        return self.jobs.depth()

    @_unreachable_is_503
    def lookup_upload(self, upload_key: str) -> Any:
        return self.cache.lookup_alias(upload_key)

    @_unreachable_is_503
    def find_output(self, output_id: str) -> Any:
        for index in (self.cache, self.uncached):
            if index.find_output(output_id) is not None:
                return index
        return None

    def describe(self) -> dict[str, Any]:
        try:
            self.client.ping()
        except Exception:  # noqa: BLE001
            return {"engine": self.name, "redis": "unreachable", "workers": [], "queue_depth": None}
        workers = self.jobs.live_workers(self.settings.heartbeat_timeout_s)
        counters = self.jobs.counters()
        return {
            "engine": self.name,
            "redis": "ok",
            "workers": workers,
            "queue_depth": self.jobs.depth(),
            "jobs": self.jobs.by_state(),
            "retries": counters.get("retries", 0),
            "requeued": counters.get("requeued", 0),
            "dead_lettered": counters.get("dead_lettered", 0),
        }
