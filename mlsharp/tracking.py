"""Jobs as a caller sees them: the prediction service plus ownership, cancel and webhooks.

:class:`mlsharp.service.PredictionService` decides *whether* and *how* a photo runs; this layer adds
*whose* it is. Every job route goes through :class:`Tracking`, so an id belonging to another caller
answers the same 404 as an id that never existed, a finished job releases its caller's slot under
``limits.max_queued_per_caller``, and a ``webhook_url`` is checked (scheme, SSRF guard) before the
job is accepted rather than discovered unusable when it ends. Both engines are served alike: the
records live beside the engine (:mod:`mlsharp.records`), not inside it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mlsharp.delivery import Delivery
from mlsharp.errors import ServiceError
from mlsharp.ownership import Ownership
from mlsharp.records import MemoryRecords, RedisRecords
from mlsharp.webhooks import UnsafeWebhook, WebhookSettings, check_webhook_url
from mlsharp.webhooks.notify import Notifier


def records_for(engine: Any, ttl_s: float = 86_400.0) -> MemoryRecords | RedisRecords:
    """Shared (Redis) records when the engine is shared, else in this process."""
    client = getattr(engine, "client", None) if getattr(engine, "name", "local") != "local" else None
    return RedisRecords(client, ttl_s=ttl_s) if client is not None else MemoryRecords(ttl_s=ttl_s)


class Tracking:
    """The job routes' one entry point: the service plus whose each job is, its cancel and its webhook."""

    def __init__(self, service: Any, engine: Any, ownership: Ownership, webhooks: WebhookSettings | None) -> None:
        self.service = service
        self.engine = engine
        self.ownership = ownership
        self.webhooks = webhooks
        self.notifier = Notifier(ownership, lambda job_id: engine.result(job_id, None), engine.status, webhooks)

    @classmethod
    def build(cls, config: Any, service: Any, engine: Any, enforce: bool) -> "Tracking":
        ownership = Ownership(records_for(engine), enforce, config.limits.max_queued_per_caller)
        return cls(service, engine, ownership, WebhookSettings.from_config(config.webhooks))

    # ------------------------------------------------------------------ webhooks

    async def check_webhook(self, url: str | None) -> str | None:
        """The URL when usable (422 otherwise); resolved now so a bad one is refused up front."""
        if not url:
            return None
        if self.webhooks is None:
            raise ServiceError(422, "webhook_url needs webhooks.secret (or MLSHARP_WEBHOOK_SECRET) to sign "
                                    "deliveries; none is configured")
        try:
            await asyncio.to_thread(check_webhook_url, url, self.webhooks.allow_private)
        except UnsafeWebhook as exc:
            raise ServiceError(422, str(exc)) from None
        return url

    # ------------------------------------------------------------------ jobs

    async def submit(self, caller_id: str, data: bytes, f_px: float | None, input_size: int | None,
                     webhook_url: str | None = None, base_url: str = "",
                     delivery: Delivery = Delivery()) -> dict[str, Any]:
        """Accept one job for ``caller_id``; its snapshot (already ``done`` on a cache hit)."""
        webhook_url = await self.check_webhook(webhook_url)
        self.ownership.check_capacity(caller_id)
        job = await self.service.submit_job(data, f_px, input_size, delivery=delivery)
        return self.track(job.id, caller_id, webhook_url=webhook_url, base_url=base_url)

    def track(self, job_id: str, caller_id: str, batch_id: str | None = None,
              webhook_url: str | None = None, base_url: str = "", follow: bool = True) -> dict[str, Any]:
        """Record an accepted job as ``caller_id``'s and follow it to its end."""
        self.ownership.record_job(job_id, caller_id, batch_id, webhook_url, base_url)
        if follow:
            self.notifier.follow_job(job_id)
        return self.job(job_id, caller_id)

    def job(self, job_id: str, caller_id: str) -> dict[str, Any]:
        record = self.ownership.job_record(job_id, caller_id)
        snapshot = self.service.job(job_id)
        return self.ownership.present(snapshot, record)

    def cancel(self, job_id: str, caller_id: str) -> dict[str, Any]:
        """Cancel a job that has not finished; a finished (or already cancelled) one is left as is."""
        self.job(job_id, caller_id)  # 404 first: unknown, or somebody else's
        self.service.cancel(job_id)
        return self.job(job_id, caller_id)

    def granted(self, result: dict[str, Any], caller_id: str) -> dict[str, Any]:
        """A synchronous prediction's result: its output becomes the caller's to download."""
        self.ownership.grant_output(result["id"], caller_id)
        return result

    def check_output(self, output_id: str, caller_id: str) -> None:
        self.ownership.check_output(output_id, caller_id)

    async def stop(self) -> None:
        await self.notifier.stop()
