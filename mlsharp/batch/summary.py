"""A batch as its caller sees it: counts by state and one line per photo, from the jobs' snapshots.

A batch record (kept in :mod:`mlsharp.records`) is only the list of its photos -- each with the job
it became, or the reason it was refused up front; the live states come from the engine every time,
so a batch never disagrees with its jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

STATES = ("queued", "running", "done", "error", "cancelled")
Snapshot = Callable[[str], "dict[str, Any] | None"]


def item_status(item: dict[str, Any], snapshot: Snapshot) -> dict[str, Any]:
    """One photo's line: name, job id, state and stage, Gaussians, download URL, error."""
    line: dict[str, Any] = {"name": item["name"], "job_id": item.get("job_id"), "state": "error",
                            "stage": "error", "num_gaussians": None, "url": None, "error": item.get("error")}
    if item.get("job_id") is None:
        return line
    job = snapshot(item["job_id"])
    if job is None:  # forgotten by the engine (restart, or long expired)
        line["error"] = line["error"] or "the job is no longer known to the server"
        return line
    line["state"], line["stage"] = job["state"], job["stage"]
    result = job.get("result") or {}
    if result:
        line["num_gaussians"] = result.get("num_gaussians")
        line["url"] = result.get("url")
        line["output_id"] = result.get("id")
    if job.get("error"):
        line["error"] = job["error"].get("detail")
    return line


def summarize(batch: dict[str, Any], snapshot: Snapshot) -> dict[str, Any]:
    items = [item_status(item, snapshot) for item in batch["items"]]
    counts = {state: 0 for state in STATES}
    for line in items:
        counts[line["state"]] = counts.get(line["state"], 0) + 1
    finished = counts["done"] + counts["error"] + counts["cancelled"]
    if finished < len(items):
        state = "running" if counts["running"] or finished else "queued"
    elif counts["cancelled"] and not counts["done"]:
        state = "cancelled"
    else:
        state = "done"
    return {
        "batch_id": batch["batch_id"],
        "state": state,
        "total": len(items),
        "counts": counts,
        "items": items,
        "skipped": batch.get("skipped", []),
        "zip_url": f"/api/batch/{batch['batch_id']}.zip",
        "webhook": batch.get("webhook"),
    }
