"""Who owns which job, batch and output, and how many unfinished jobs each caller may have.

With credentials configured (API keys or JWT), every job and batch records the caller that created
it (:attr:`mlsharp.http.deps.Caller.id`: a key's fingerprint or a token's ``sub``), and every
lookup by another caller answers exactly what an unknown id answers -- a 404 -- so ids cannot be
probed for existence. Outputs are granted separately because a cache hit hands a caller an output
id first made for somebody else's identical photo: the id is shared, the permission is per caller.
Without credentials everybody is the same anonymous caller and nothing is checked (the single-user
local tool behaves as before).

The per-caller cap counts jobs accepted and not yet finished; a job leaves the count when its
follower (:mod:`mlsharp.webhooks.notify`) sees it end, or when its owner sees it finished.
"""

from __future__ import annotations

from typing import Any

from mlsharp.redact import clip
from mlsharp.errors import ServiceError
from mlsharp.records import Records

FINISHED = ("done", "error", "cancelled")


class Ownership:
    """Per-caller ownership of jobs, batches and outputs, and the per-caller cap; another caller's id
    answers exactly as an unknown one."""

    def __init__(self, records: Records, enforce: bool, max_pending: int = 0) -> None:
        self.records = records
        self.enforce = enforce
        self.max_pending = max_pending

    # ------------------------------------------------------------------ admission

    def check_capacity(self, caller_id: str, adding: int = 1) -> None:
        """429 when ``adding`` more jobs would pass ``limits.max_queued_per_caller``."""
        if not self.max_pending:
            return
        pending = self.records.count_members("pending", caller_id)
        if pending + adding > self.max_pending:
            raise ServiceError(
                429, f"Too many photos waiting: you have {pending} unfinished, at most {self.max_pending} may wait "
                "at once; try again when some have finished",
                headers={"Retry-After": "5"}, outcome="rejected",
            )

    # ------------------------------------------------------------------ jobs

    def record_job(self, job_id: str, caller_id: str, batch_id: str | None = None,
                   webhook_url: str | None = None, base_url: str = "", done: bool = False) -> None:
        webhook = {"url": webhook_url, "state": "pending", "attempts": []} if webhook_url else None
        self.records.put("job", job_id, {"caller": caller_id, "batch_id": batch_id, "webhook": webhook,
                                         "base_url": base_url})
        if not done:
            self.records.add_member("pending", caller_id, job_id)

    def job_record(self, job_id: str, caller_id: str) -> dict[str, Any]:
        """The job's record when ``caller_id`` may see it; else the same 404 as an unknown job."""
        record = self.records.get("job", job_id)
        if record is None:
            if self.enforce:
                raise self.unknown_job(job_id)
            return {"caller": caller_id, "batch_id": None, "webhook": None, "base_url": ""}
        if self.enforce and record["caller"] != caller_id:
            raise self.unknown_job(job_id)
        return record

    @staticmethod
    def unknown_job(job_id: str) -> ServiceError:
        return ServiceError(404, f"no job with id {clip(job_id)!r} (unknown, or finished long ago)")

    def present(self, snapshot: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        """The engine's snapshot plus what the API layer knows (batch, webhook deliveries)."""
        if snapshot.get("state") in FINISHED:
            self.finished(snapshot["job_id"], record["caller"], snapshot)
        return {**snapshot, "batch_id": record.get("batch_id"), "webhook": record.get("webhook")}

    def finished(self, job_id: str, caller_id: str, snapshot: dict[str, Any]) -> None:
        """A job ended: it no longer counts against the cap, and its owner may fetch its output."""
        self.records.remove_member("pending", caller_id, job_id)
        result = snapshot.get("result")
        if result and result.get("id"):
            self.grant_output(result["id"], caller_id)

    # ------------------------------------------------------------------ outputs

    def grant_output(self, output_id: str, caller_id: str) -> None:
        if self.enforce:
            self.records.add_member("output", output_id, caller_id)

    def check_output(self, output_id: str, caller_id: str) -> None:
        if self.enforce and not self.records.has_member("output", output_id, caller_id):
            raise ServiceError(404, "no output with this id (unknown, or evicted from the cache)")

    # ------------------------------------------------------------------ batches

    def record_batch(self, batch: dict[str, Any]) -> None:
        self.records.put("batch", batch["batch_id"], batch)

    def batch_record(self, batch_id: str, caller_id: str) -> dict[str, Any]:
        record = self.records.get("batch", batch_id)
        if record is None or (self.enforce and record["caller"] != caller_id):
            raise ServiceError(404, f"no batch with id {batch_id!r} (unknown, or finished long ago)")
        return record
