"""Asynchronous prediction jobs the web page can poll, kept in a bounded in-memory store.

Stages only move forward (queued -> loading [-> drafting -> draft] -> inference -> saving -> done;
the bracketed two only for progressive jobs, whose ``draft`` field holds a viewable draft scene
from stage ``draft`` on, until the final result replaces it): progress messages
from a worker arrive on another thread and may be late, so :meth:`Job.advance` ignores a stage
that would go backwards or that arrives after the job finished. When the store is full the oldest
*finished* jobs are forgotten; running ones never are (their number is already bounded by
``performance.max_concurrency``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

STAGE_ORDER = ("queued", "loading", "drafting", "draft", "inference", "saving", "done")


@dataclass
class Job:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"  # queued | running | done | error | cancelled
    stage: str = "queued"
    created: float = field(default_factory=time.monotonic)
    stage_since: float = field(default_factory=time.monotonic)  # when ``stage`` began (progress estimates)
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cancel_reason: str | None = None  # set before its task is cancelled (else: server shutdown)
    draft: dict[str, Any] | None = None  # progressive: the draft scene's result, before the final one
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done(self) -> bool:
        return self.state in ("done", "error", "cancelled")

    def advance(self, stage: str) -> None:
        if stage not in STAGE_ORDER:
            return
        with self._lock:
            if self.done or STAGE_ORDER.index(stage) <= STAGE_ORDER.index(self.stage):
                return
            self.stage, self.stage_since = stage, time.monotonic()
            if stage != "queued":
                self.state = "running"

    def publish_draft(self, result: dict[str, Any]) -> None:
        """A viewable draft scene (progressive inference); the final result will replace it."""
        with self._lock:
            if self.done:
                return
            self.draft = result
        self.advance("draft")

    def succeed(self, result: dict[str, Any]) -> None:
        with self._lock:
            if self.state == "cancelled":  # a result that arrives after the cancel is discarded
                return
            self.result, self.state, self.stage = result, "done", "done"
            self.finished = time.monotonic()

    def fail(self, status_code: int, detail: str) -> None:
        with self._lock:
            if self.state == "cancelled":
                return
            self.error = {"status_code": status_code, "detail": detail}
            self.state, self.stage = "error", "error"
            self.finished = time.monotonic()

    def cancelled(self) -> None:
        """Its owner cancelled it (``DELETE /api/jobs/{id}``): finished, neither result nor error."""
        with self._lock:
            if self.done:
                return
            self.state, self.stage = "cancelled", "cancelled"
            self.finished = time.monotonic()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            end = self.finished if self.finished is not None else time.monotonic()
            return {
                "job_id": self.id,
                "state": self.state,
                "stage": self.stage,
                "elapsed_s": round(end - self.created, 3),
                "stage_elapsed_s": round(max(0.0, end - self.stage_since), 3),
                "draft": self.draft,
                "result": self.result,
                "error": self.error,
            }


class JobStoreFull(RuntimeError):
    """Every kept job is still unfinished: refusing a new one is better than forgetting a running one."""


class JobStore:
    """The local engine's jobs, bounded: finished jobs are forgotten oldest first to make room."""

    def __init__(self, max_jobs: int = 256) -> None:
        self.max_jobs = max_jobs
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: Job) -> Job:
        with self._lock:
            if len(self._jobs) >= self.max_jobs:
                for old_id in [j.id for j in self._jobs.values() if j.done]:
                    del self._jobs[old_id]
                    if len(self._jobs) < self.max_jobs:
                        break
            if len(self._jobs) >= self.max_jobs:
                raise JobStoreFull("too many jobs in progress")
            self._jobs[job.id] = job
            return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)
