"""``python app.py worker``: one process that loads the model once and runs jobs from Redis.

Start one per GPU (``--device cuda:0``, ``--device cuda:1``, ...) on as many machines as you
like; they share one Redis and one store. Each job runs the same steps and flow as the local
engine (:mod:`mlsharp.engines.task`, :func:`mlsharp.engines.flow.run_job`).

Delivery rules, and where they are kept:

* acknowledged only after the result is stored and indexed (Dramatiq acks when the actor returns);
* idempotent: the output is named by the job id and published atomically, and the job finishes
  exactly once (:meth:`RedisJobs.succeed` is a compare-and-set), so running it twice is harmless;
* a job whose worker died is requeued by the broker (see :mod:`mlsharp.engines.cluster`); every
  start is counted and after ``jobs.max_attempts`` starts -- crashes and retries together -- it
  fails with a clear error and its message goes to Dramatiq's dead-letter queue;
* bad input (:class:`BadInput`) and the per-job time limit end the job at once, never retried;
* SIGTERM: stop taking jobs, finish the current one (within the grace), then exit 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from loguru import logger

from mlsharp.engines import JobSpec
from mlsharp.engines.cluster import ClusterSettings, connect, indexes, stores
from mlsharp.engines.flow import run_job
from mlsharp.engines.redis_jobs import RedisJobs
from mlsharp.engines.task import Executed, Prepared, execute, prepare
from mlsharp.intake import BadInput
from mlsharp.storage import open_object


class GaveUp(Exception):
    """A job that has used up its attempts; never retried, dead-lettered."""


class Transient(Exception):
    """A failure worth another attempt (storage hiccup, a bug that may not repeat)."""


@dataclass
class _DirectSteps:
    settings: ClusterSettings
    report: Any

    async def prepare(self, spec: JobSpec) -> Prepared:
        return prepare(spec, self.settings.s3)

    async def execute(self, spec: JobSpec, keep_photo: bool = False, on_stage: Any = None) -> Executed:
        return execute(spec, self.settings.s3, on_stage or self.report, keep_photo)


class JobRunner:
    """The actor's body, with the counters the worker's metrics port shows."""

    def __init__(self, settings: ClusterSettings, worker_id: str, metrics: Any = None) -> None:
        self.settings, self.worker_id, self.metrics = settings, worker_id, metrics
        self.client = connect(settings)
        self.jobs = RedisJobs(self.client, settings.namespace, settings.job_ttl_s)
        results, _ = stores(settings)
        self.cache, self.uncached = indexes(self.client, settings, results)
        self.busy = threading.Event()

    def retry_when(self, retries: int, exc: BaseException) -> bool:
        return isinstance(exc, Transient) and retries + 1 < self.settings.max_attempts

    def _end(self, spec: JobSpec) -> None:
        try:
            store, key = open_object(spec.photo, self.settings.s3)
            store.delete(key)
        except Exception as exc:  # noqa: BLE001 - a leftover photo is only wasted space
            logger.warning("could not delete the photo of job {}: {}", spec.job_id, exc)

    def _outcome(self, name: str, seconds: float | None = None) -> None:
        if self.metrics is not None:
            self.metrics.observe(name, seconds)

    def run(self, payload: dict[str, Any]) -> None:
        from dramatiq.middleware.time_limit import TimeLimitExceeded

        spec = JobSpec.from_dict(payload)
        if self.jobs.is_finished(spec.job_id):
            return  # done, failed or cancelled already (a redelivery after the ack was lost)
        attempts = self.jobs.begin(spec.job_id, self.worker_id)
        if attempts > self.settings.max_attempts:
            self.jobs.fail(spec.job_id, 500, f"gave up after {attempts - 1} attempts: the worker running "
                                             "this job stopped each time (crash, out of memory or kill)", dead=True)
            self._end(spec)
            self._outcome("dead_lettered")
            raise GaveUp(f"job {spec.job_id} used up its attempts")
        start = time.perf_counter()
        self.busy.set()
        try:
            result = asyncio.run(run_job(spec, _DirectSteps(self.settings, self._reporter(spec)),
                                         self.cache, self.uncached, self._reporter(spec), start,
                                         on_draft=lambda draft: self.jobs.publish_draft(spec.job_id, draft)))
        except BadInput as exc:
            self.jobs.fail(spec.job_id, exc.status_code, exc.detail)
            self._end(spec)
            self._outcome("bad_request")
            return
        except TimeLimitExceeded:
            self._discard(spec)
            self.jobs.fail(spec.job_id, 504, f"the prediction took longer than {self.settings.time_limit_s:g} s, "
                                             "the most this cluster allows")
            self._end(spec)
            self._outcome("timeout")
            return
        except Exception as exc:  # noqa: BLE001 - decide between another attempt and the dead letters
            self._discard(spec)
            detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
            if attempts >= self.settings.max_attempts:
                self.jobs.fail(spec.job_id, 500, f"failed after {attempts} attempts: {detail}", dead=True)
                self._end(spec)
                self._outcome("dead_lettered")
                raise GaveUp(detail) from exc
            self.jobs.count("retries")
            self._outcome("retried")
            logger.warning("job {} attempt {} failed ({}); it will be retried", spec.job_id, attempts, detail)
            raise Transient(detail) from exc
        finally:
            self.busy.clear()
        if self.jobs.succeed(spec.job_id, result):
            self._outcome("success", time.perf_counter() - start)
        self._end(spec)

    def _reporter(self, spec: JobSpec) -> Any:
        return lambda stage: self.jobs.advance(spec.job_id, stage)

    def _discard(self, spec: JobSpec) -> None:
        try:
            store, key = open_object(spec.output, self.settings.s3)
            if self.cache.find_output(spec.job_id) is None and self.uncached.find_output(spec.job_id) is None:
                store.delete(key)
        except Exception:  # noqa: BLE001
            pass


class Heartbeat(threading.Thread):
    """Beats for Dramatiq (so a busy worker is not taken for dead) and for ``/api/health``."""

    def __init__(self, runner: JobRunner, broker: Any, info: dict[str, Any]) -> None:
        super().__init__(name="mlsharp-heartbeat", daemon=True)
        self.runner, self.broker, self.info = runner, broker, info
        self.interval = max(0.2, runner.settings.heartbeat_timeout_s / 4)
        self.stopped = threading.Event()

    def beat(self) -> None:
        now_ms = int(time.time() * 1000)
        self.broker.client.zadd(f"{self.broker.namespace}:__heartbeats__", {self.broker.broker_id: now_ms})
        info = {**self.info, "busy": self.runner.busy.is_set()}
        self.runner.jobs.heartbeat(self.runner.worker_id, info, self.runner.settings.heartbeat_timeout_s)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - Redis away for a moment: try again
                logger.warning("heartbeat failed: {}", exc)

    def stop(self) -> None:
        self.stopped.set()
        try:
            self.runner.jobs.leave(self.runner.worker_id)
        except Exception:  # noqa: BLE001
            pass


def serve(settings: ClusterSettings, info: dict[str, Any], metrics: Any = None, grace_s: float = 30.0) -> int:
    """Consume jobs until SIGTERM/SIGINT; the backend must already be loaded in this process."""
    import dramatiq
    from dramatiq.middleware import CurrentMessage, Retries, ShutdownNotifications, TimeLimit

    from mlsharp.engines.cluster import ACTOR, QUEUE, make_broker

    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    runner = JobRunner(settings, worker_id, metrics)
    broker = make_broker(settings, middleware=[
        TimeLimit(time_limit=int(settings.time_limit_s * 1000), interval=200),
        ShutdownNotifications(), CurrentMessage(),
        Retries(max_retries=settings.max_attempts - 1, min_backoff=500, max_backoff=5_000),
    ])
    dramatiq.actor(runner.run, broker=broker, actor_name=ACTOR, queue_name=QUEUE,
                   retry_when=runner.retry_when, throws=(GaveUp,))
    consumer = dramatiq.Worker(broker, worker_threads=1, worker_timeout=200)  # idle poll: 200 ms
    consumer.queue_prefetch = 1  # hold no job another worker could be running meanwhile
    consumer.delay_prefetch = 1
    heartbeat = Heartbeat(runner, broker, {**info, "pid": os.getpid(), "host": socket.gethostname()})
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        heartbeat.beat()
        heartbeat.start()
        consumer.start()
        logger.info("worker {} consuming {} from {}", worker_id, QUEUE, settings.redis_url)
        stop.wait()
        logger.info("worker {} stopping: finishing its current job (up to {:g} s)", worker_id, grace_s)
        consumer.stop(timeout=int(grace_s * 1000))
    finally:
        heartbeat.stop()
        broker.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("worker {} stopped", worker_id)
    return 0
