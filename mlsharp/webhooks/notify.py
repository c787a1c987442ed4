"""Following jobs and batches to their end: release the caller's cap, grant the output, call the webhook.

The API server that accepted a job follows it (an asyncio task awaiting the engine's result), so
this works the same on both engines without teaching workers about HTTP callbacks. Each delivery
attempt is written into the job's (or batch's) record as it happens, which is what
``GET /api/jobs/{id}`` and ``GET /api/batch/{id}`` show under ``webhook``. A batch's webhook is
sent once, after its last job ended, with the same per-photo lines as its status.

Limitation (documented): a follower lives in the server process; if that server stops before a job
ends, the job still finishes and is visible, but its webhook is not sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from mlsharp.batch.summary import summarize
from mlsharp.ownership import Ownership
from mlsharp.webhooks.delivery import WebhookSettings, deliver

Result = Callable[[str], Awaitable[Any]]
Snapshot = Callable[[str], "dict[str, Any] | None"]


def _absolute(base_url: str, path: str | None) -> str | None:
    return base_url.rstrip("/") + path if path else None


def job_payload(snapshot: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    base = record.get("base_url", "")
    result = snapshot.get("result") or None
    return {
        "event": "job.finished",
        "job_id": snapshot["job_id"],
        "batch_id": record.get("batch_id"),
        "state": snapshot["state"],
        "elapsed_s": snapshot.get("elapsed_s"),
        "result": None if result is None else {
            "id": result["id"], "num_gaussians": result["num_gaussians"], "backend": result["backend"],
            "url": _absolute(base, result["url"]), "viewer_url": _absolute(base, result["viewer_url"]),
        },
        "timings": result["timings"] if result else None,
        "error": snapshot.get("error"),
        "status_url": _absolute(base, f"/api/jobs/{snapshot['job_id']}"),
    }


def batch_payload(summary: dict[str, Any], base_url: str) -> dict[str, Any]:
    items = [{**item, "url": _absolute(base_url, item["url"])} for item in summary["items"]]
    return {
        "event": "batch.finished",
        "batch_id": summary["batch_id"],
        "state": summary["state"],
        "counts": summary["counts"],
        "items": items,
        "zip_url": _absolute(base_url, summary["zip_url"]),
        "status_url": _absolute(base_url, f"/api/batch/{summary['batch_id']}"),
    }


class Notifier:
    def __init__(self, ownership: Ownership, result: Result, snapshot: Snapshot,
                 settings: WebhookSettings | None) -> None:
        self.ownership = ownership
        self.records = ownership.records
        self._result = result
        self._snapshot = snapshot
        self.settings = settings
        self._tasks: dict[str, asyncio.Task] = {}

    def _spawn(self, key: str, work: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))
        return task

    async def _ended(self, job_id: str) -> dict[str, Any] | None:
        try:
            await self._result(job_id)
        except Exception:  # noqa: BLE001 - a failed job is an ending too; its snapshot says how
            pass
        return self._snapshot(job_id)

    def _recorder(self, kind: str, key: str) -> Callable[[dict[str, Any]], None]:
        def record(attempt: dict[str, Any]) -> None:
            def change(stored: dict[str, Any]) -> None:
                webhook = stored["webhook"]
                webhook["attempts"].append(attempt)
                webhook["state"] = "delivered" if attempt["error"] is None else "retrying"
            self.records.update(kind, key, change)
        return record

    async def _send(self, kind: str, key: str, url: str, payload: dict[str, Any]) -> None:
        assert self.settings is not None
        delivered = await deliver(url, payload, self.settings, self._recorder(kind, key))
        if not delivered:
            self.records.update(kind, key, lambda stored: stored["webhook"].update(state="failed"))
            logger.warning("webhook for {} {} was not delivered", kind, key)

    async def _follow_job(self, job_id: str) -> None:
        snapshot = await self._ended(job_id)
        record = self.records.get("job", job_id)
        if snapshot is None or record is None:
            return
        self.ownership.finished(job_id, record["caller"], snapshot)
        webhook = record.get("webhook")
        if webhook and self.settings is not None:
            await self._send("job", job_id, webhook["url"], job_payload(snapshot, record))

    def follow_job(self, job_id: str) -> asyncio.Task:
        return self._spawn(f"job:{job_id}", self._follow_job(job_id))

    async def _follow_batch(self, batch_id: str, jobs: list[asyncio.Task]) -> None:
        await asyncio.gather(*jobs, return_exceptions=True)
        batch = self.records.get("batch", batch_id)
        if batch is None or not batch.get("webhook") or self.settings is None:
            return
        summary = summarize(batch, self._snapshot)
        await self._send("batch", batch_id, batch["webhook"]["url"], batch_payload(summary, batch["base_url"]))

    def follow_batch(self, batch_id: str, job_ids: list[str]) -> asyncio.Task:
        """Follow each job (its own webhook, cap, grant), then send the batch's webhook once."""
        jobs = [self._tasks.get(f"job:{job_id}") or self.follow_job(job_id) for job_id in job_ids]
        return self._spawn(f"batch:{batch_id}", self._follow_batch(batch_id, jobs))

    async def idle(self) -> None:
        """Wait until every follower is done (tests; graceful shutdown after the engine stopped)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def stop(self, grace: float = 2.0) -> None:
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
