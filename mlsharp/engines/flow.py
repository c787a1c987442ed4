"""One job from the engine's side: the same sequence whichever engine runs it.

``loading`` (read + decode in the worker) -> cache check on the decoded pixels -> ``inference`` /
``saving`` (worker) -> index the output. The steps are awaited through :class:`Steps` so the
local engine can run them in its pool and the Dramatiq worker in-process; the index is the
engine's (:class:`mlsharp.cache.ResultCache` locally, :mod:`mlsharp.engines.redis_state` shared).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from mlsharp.delivery import Delivery
from mlsharp.engines import JobSpec
from mlsharp.engines.task import Executed, Prepared
from mlsharp.exports import DEPTH_COLOR_SUFFIX, DEPTH_SUFFIX, download_urls
from mlsharp.model_manager import PREVIEW_MESSAGE

MAX_ALIASES = 4096


class Steps(Protocol):
    """The two worker-side steps of a job, awaited so the local engine can run them in its pool and
    the Dramatiq worker in its own process."""

    async def prepare(self, spec: JobSpec) -> Prepared: ...

    async def execute(self, spec: JobSpec, keep_photo: bool = False,
                      on_stage: Callable[[str], Any] | None = None) -> Executed: ...


def response(output_id: str, meta: dict, timings: dict, cache_hit: bool, batch_size: int | None = None,
             delivery: Delivery = Delivery()) -> dict:
    """The answer of ``/api/predict`` and a finished job's ``result``; ``batch_size``: photos that
    shared this one's forward (``None`` for a cache hit, which had none). ``delivery`` (the
    request's, never the cache entry's) names the downloads and sets the density every scene URL
    serves; ``num_gaussians`` is what those URLs hold."""
    backend = meta["backend"]
    query, named = delivery.query(), delivery.query(density=False)
    served = meta["num_gaussians"]
    if delivery.max_gaussians is not None:
        served = min(served, delivery.max_gaussians)
    return {
        "id": output_id,
        "status": "success",
        "backend": backend,
        "preview": backend == "preview",
        "num_gaussians": served,
        "max_gaussians": delivery.max_gaussians,
        "download_name": delivery.name,
        "f_px": meta["f_px"],
        "focal_source": meta["focal_source"],
        "image_width": meta["image_width"],
        "image_height": meta["image_height"],
        "input_size": meta["input_size"],
        "input_size_reason": meta.get("input_size_reason"),
        "timings": {k: (round(v, 4) if v is not None else None) for k, v in timings.items()},
        "processing_time": round(timings["total"], 4),
        "cache_hit": cache_hit,
        "batch_size": batch_size,
        "draft": False,  # True only on a progressive job's draft scene (its job's "draft" field)
        "url": f"/api/outputs/{output_id}.ply{query}",
        "viewer_url": f"/api/outputs/{output_id}.spz{query}",
        "downloads": {name: url + query for name, url in download_urls(output_id).items()},
        "depth_url": f"/api/outputs/{output_id}{DEPTH_SUFFIX}{named}",
        "depth_preview_url": f"/api/outputs/{output_id}{DEPTH_COLOR_SUFFIX}{named}",
        "message": PREVIEW_MESSAGE if backend == "preview" else None,
    }


def hit_response(entry: Any, start: float, image_load: float = 0.0, delivery: Delivery = Delivery()) -> dict:
    timings = {"image_load": image_load, "inference": 0.0, "ply_save": 0.0,
               "total": time.perf_counter() - start}
    return response(entry.output_id, entry.meta, timings, cache_hit=True, delivery=delivery)


class AliasedIndex:
    """A :class:`mlsharp.cache.ResultCache` plus the in-memory map uploaded bytes -> pixel key.

    The map lets a repeat upload be answered before any decode; it is a hint (bounded, lost on
    restart), the index itself stays the authority.
    """

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self._aliases: OrderedDict[str, str] = OrderedDict()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)

    def remember_alias(self, alias: str, key: str) -> None:
        self._aliases[alias] = key
        self._aliases.move_to_end(alias)
        while len(self._aliases) > MAX_ALIASES:
            self._aliases.popitem(last=False)

    def lookup_alias(self, alias: str) -> Any:
        key = self._aliases.get(alias)
        if key is None or self.cache.peek(key) is None:
            return None
        return self.cache.get(key)


def draft_fields(draft_side: int | None, output_uri: Callable[[str], str]) -> dict[str, Any]:
    """The :class:`JobSpec` fields of a progressive job's draft: its own output id (and so its own
    URLs), published at ``output_uri(id)``; none when the job is not progressive. Both engines
    build their specs with it, so a draft looks the same whichever engine ran it."""
    if not draft_side:
        return {}
    from mlsharp.output_ids import new_output_id

    draft_id = new_output_id()
    return {"draft_side": draft_side, "draft_id": draft_id, "draft_output": output_uri(draft_id)}


async def run_draft(spec: JobSpec, prepared: Prepared, steps: Steps, cache: Any, outputs: Any,
                    report: Callable[[str], None], start: float, on_draft: Callable[[dict], None]) -> None:
    """Progressive inference: the scene at the draft side, indexed under its own id (cached like
    any result) and published to the job before the requested side is computed."""
    draft = spec.draft()
    entry = cache.get(prepared.draft_key) if spec.use_cache and prepared.draft_key else None
    if entry is not None:
        result = hit_response(entry, start, delivery=spec.delivery)
    else:
        def drafting(stage: str) -> None:  # the draft's own stages must not run ahead of the final's
            if stage == "inference":
                report("drafting")

        done = await steps.execute(draft, keep_photo=True, on_stage=drafting)
        meta = {**prepared.meta, "input_size": spec.draft_side, "num_gaussians": done.num_gaussians}
        index = cache if spec.use_cache else outputs
        stored = index.put(prepared.draft_key if spec.use_cache else spec.draft_id, spec.draft_id, meta)
        timings = {"image_load": prepared.image_load, "inference": done.inference, "ply_save": done.ply_save,
                   "total": time.perf_counter() - start, "forward": done.forward}
        result = response(stored.output_id, stored.meta, timings, cache_hit=False, batch_size=done.batch_size,
                          delivery=spec.delivery)
    on_draft({**result, "draft": True})


async def run_job(spec: JobSpec, steps: Steps, cache: Any, outputs: Any,
                  report: Callable[[str], None], start: float,
                  on_lookup: Callable[[bool], None] = lambda hit: None,
                  on_draft: Callable[[dict], None] | None = None) -> dict:
    """Run ``spec`` to a result dict; ``cache`` indexes cached results, ``outputs`` uncached ones.

    With ``spec.draft_side`` and ``on_draft``, a draft scene is computed and handed to ``on_draft``
    first (see :func:`run_draft`); the returned result is always the requested side's."""
    report("loading")
    prepared = await steps.prepare(spec)
    if spec.use_cache:
        if spec.upload_key:
            cache.remember_alias(spec.upload_key, prepared.key)
        entry = cache.get(prepared.key)
        on_lookup(entry is not None)
        if entry is not None:
            return hit_response(entry, start, prepared.image_load, spec.delivery)
    if spec.draft_side and on_draft is not None:
        await run_draft(spec, prepared, steps, cache, outputs, report, start, on_draft)
    done = await steps.execute(spec)
    meta = {**prepared.meta, "num_gaussians": done.num_gaussians}
    index = cache if spec.use_cache else outputs
    stored = index.put(prepared.key if spec.use_cache else spec.job_id, spec.job_id, meta)
    timings = {"image_load": prepared.image_load, "inference": done.inference, "ply_save": done.ply_save,
               "total": time.perf_counter() - start, "forward": done.forward}
    return response(stored.output_id, stored.meta, timings, cache_hit=False, batch_size=done.batch_size,
                    delivery=spec.delivery)
