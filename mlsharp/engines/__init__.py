"""The job seam: :class:`mlsharp.service.PredictionService` hands every prediction to a *job engine*.

Two engines implement :class:`JobEngine`, picked by ``jobs.engine``:

* ``local`` (:mod:`mlsharp.engines.local`, default): this process's spawn pool; nothing to install.
* ``dramatiq`` (:mod:`mlsharp.engines.dramatiq_api`): jobs on a Redis-backed Dramatiq queue, run by
  ``python app.py worker`` processes on any machine; job state and the cache index live in Redis.

Both run the same worker-side steps (:mod:`mlsharp.engines.task`: read photo -> decode -> network
-> PLY -> store) through the same flow (:func:`mlsharp.engines.flow.run_job`), so a photo gives the
same bytes whichever engine ran it. A :class:`JobSpec` is all a worker receives: ids, options and
URIs -- never pixels -- so it can cross Redis as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from mlsharp.delivery import Delivery
from mlsharp.jobs import Job


@dataclass(frozen=True)
class JobOptions:
    """What the API decided about one upload before handing it over (validated, snapped)."""

    f_px: float | None
    side: int
    max_pixels: int
    use_cache: bool
    upload_key: str | None = None  # lets a worker teach the API the bytes -> pixels shortcut
    draft_side: int | None = None  # progressive: publish a scene at this side first (jobs only)
    side_reason: str | None = None  # dynamic_input_size: why this side
    delivery: Delivery = Delivery()  # the download name and density of the answer's URLs


@dataclass(frozen=True)
class JobSpec:
    """One job as a worker sees it. ``job_id`` also names the output, so a re-run rewrites it."""

    job_id: str
    photo: str  # URI of the uploaded bytes (deleted when the job ends)
    output: str  # URI the .ply is published at
    f_px: float | None
    side: int
    max_pixels: int
    use_cache: bool
    upload_key: str | None = None
    draft_side: int | None = None  # progressive inference: a draft scene at this side comes first
    draft_id: str | None = None  # ... under its own output id
    draft_output: str | None = None  # ... published at this URI
    side_reason: str | None = None  # dynamic_input_size: why ``side`` (shown in the response)
    download_name: str | None = None  # the request's Delivery, flat so the spec stays JSON
    max_gaussians: int | None = None

    @classmethod
    def for_options(cls, options: JobOptions, **fields: Any) -> "JobSpec":
        """The spec of a job the API accepted with ``options``; ``fields``: ids and URIs."""
        return cls(f_px=options.f_px, side=options.side, max_pixels=options.max_pixels,
                   use_cache=options.use_cache, upload_key=options.upload_key, side_reason=options.side_reason,
                   download_name=options.delivery.name, max_gaussians=options.delivery.max_gaussians, **fields)

    @property
    def delivery(self) -> Delivery:
        return Delivery(self.download_name, self.max_gaussians)

    def draft(self) -> "JobSpec":
        """The same job at the draft side, written to the draft's output."""
        assert self.draft_side and self.draft_id and self.draft_output
        return replace(self, side=self.draft_side, output=self.draft_output)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobSpec":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


class JobEngine(Protocol):
    """What the service needs of a job engine, so a new engine (another queue, another cloud) is one
    module that implements these methods and one branch in :func:`make_engine`."""

    name: str
    cache: Any  # the result index cache hits are answered from (a ResultCache or its Redis twin)

    def on_finish(self, listener: Any) -> None:
        """``listener(result, error)`` hears every job this engine sees end."""

    def preflight(self) -> str | None:
        """Why the engine cannot start (one line, e.g. Redis unreachable), or ``None``."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, job_id: str, options: JobOptions, photo: bytes) -> Job:
        """Store the photo where a worker can read it and enqueue the job; answers at once."""

    async def submit_done(self, job_id: str, result: dict[str, Any]) -> Job:
        """Record a job that is finished already (answered from the cache)."""

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's snapshot (``Job.snapshot`` shape) or ``None`` when unknown."""

    async def result(self, job_id: str, timeout: float | None) -> dict[str, Any]:
        """Wait for the job; its result, or :class:`mlsharp.errors.ServiceError` with its error."""

    def cancel(self, job_id: str) -> bool:
        """Stop a job that has not finished; False when it is unknown or already finished."""

    def queue_depth(self) -> int:
        """Jobs accepted and not finished (across every API server for shared engines)."""

    def lookup_upload(self, upload_key: str) -> Any:
        """The cache entry already known for these exact uploaded bytes, or ``None``."""

    def find_output(self, output_id: str) -> Any:
        """The result index holding ``output_id`` (``path_for``/``attach``), or ``None`` when unknown."""

    def describe(self) -> dict[str, Any]:
        """Engine name and health facts for ``/api/health``."""


def engine_name(config: Any) -> str:
    """``jobs.engine`` (``local`` where the config has no jobs section)."""
    return getattr(getattr(config, "jobs", None), "engine", "local")


def make_engine(config: Any, **parts: Any) -> JobEngine:
    """The engine ``jobs.engine`` names."""
    if engine_name(config) == "dramatiq":
        from mlsharp.engines.dramatiq_api import DramatiqEngine

        return DramatiqEngine(config, **parts)
    from mlsharp.engines.local import LocalEngine

    return LocalEngine(config, **parts)
