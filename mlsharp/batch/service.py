"""Batches: many photos (several uploads and/or a ``.zip``) in one request, one job each.

Everything that can refuse the *whole* batch is decided before the first job exists: the webhook
URL, the number of photos against ``batch.max_files`` (a zip counted from its directory, see
:mod:`.archive`), and the caller's queue cap. After that a bad photo only becomes a line with its
error -- the others go on. Photos are read and submitted one at a time, so a batch never holds
more than one photo's bytes in this process.

The download is a zip streamed from the stored scenes (:mod:`.zipstream`): each finished photo as
``<photo name>.ply`` (de-duplicated), and ``manifest.json`` with every photo's status, Gaussians
and error -- what the batch looked like at the moment of the download.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import PurePosixPath
from typing import Any, Protocol

from mlsharp.batch.archive import ArchiveTooLarge, BadArchive, open_archive, plan, read_photos
from mlsharp.batch.summary import summarize
from mlsharp.batch.zipstream import Member
from mlsharp.delivery import Delivery, download_stem
from mlsharp.errors import ServiceError
from mlsharp.tracking import Tracking
from sharpnet.utils.photo_files import unique_name

ZIP_MAGIC = b"PK\x03\x04"


class Upload(Protocol):
    """What the batch needs of an uploaded part (:class:`fastapi.UploadFile` is one)."""

    filename: str | None
    file: Any

    async def read(self, size: int = -1) -> bytes: ...

    async def seek(self, offset: int) -> None: ...


def _name(upload: Upload, number: int) -> str:
    return PurePosixPath((upload.filename or "").replace("\\", "/")).name or f"photo-{number}"


def _is_zip(upload: Upload, head: bytes) -> bool:
    return (upload.filename or "").lower().endswith(".zip") or head.startswith(ZIP_MAGIC)


class BatchService:
    def __init__(self, config: Any, service: Any, tracking: Tracking) -> None:
        self.config = config
        self.service = service
        self.tracking = tracking
        self.ownership = tracking.ownership

    # ------------------------------------------------------------------ create

    async def _plan(self, uploads: list[Upload]) -> tuple[list[tuple[str, Any]], int, list[str]]:
        """The batch's sources in order -- ``("photo", Upload)`` or ``("zip", (archive, plan))`` --
        the number of photos they hold, and the zip members skipped as not photos."""
        limits = self.config.batch
        sources: list[tuple[str, Any]] = []
        count, skipped = 0, []
        for upload in uploads:
            head = await upload.read(4)
            await upload.seek(0)
            if _is_zip(upload, head):
                try:
                    archive = await asyncio.to_thread(open_archive, upload.file)
                    chosen = plan(archive, limits.max_files - count, int(limits.max_total_mb * 1e6))
                except ArchiveTooLarge as exc:
                    raise ServiceError(413, str(exc)) from None
                except BadArchive as exc:
                    raise ServiceError(400, f"{_name(upload, 0)}: {exc}") from None
                sources.append(("zip", (archive, chosen)))
                count += len(chosen.photos)
                skipped.extend(chosen.skipped)
            else:
                sources.append(("photo", upload))
                count += 1
            if count > limits.max_files:
                raise ServiceError(413, f"Too many photos: a batch holds at most {limits.max_files} photos")
        return sources, count, skipped

    async def _photos(self, sources: list[tuple[str, Any]]) -> AsyncIterator[tuple[str, bytes | None, str | None]]:
        """(name, bytes, error) per photo, read one at a time (zip members unpacked in a thread)."""
        budget = int(self.config.batch.max_total_mb * 1e6)
        for number, (kind, source) in enumerate(sources, 1):
            if kind == "photo":
                yield _name(source, number), await source.read(), None
                continue
            members = read_photos(*source, budget)
            while True:
                try:
                    photo = await asyncio.to_thread(next, members, None)
                except ArchiveTooLarge as exc:  # a member unpacked past what it declared
                    yield "(rest of the zip)", None, str(exc)
                    break
                if photo is None:
                    break
                budget -= len(photo.data or b"")
                yield photo.name, photo.data, photo.error

    async def create(self, caller_id: str, uploads: list[Upload], f_px: float | None, input_size: int | None,
                     webhook_url: str | None = None, base_url: str = "") -> dict[str, Any]:
        if not uploads:
            raise ServiceError(422, "No photos were sent: add at least one photo (or a .zip of photos)")
        webhook_url = await self.tracking.check_webhook(webhook_url)
        sources, count, skipped = await self._plan(uploads)
        try:
            if count == 0:
                raise ServiceError(400, "the batch holds no photos (JPEG, PNG, WebP, HEIC, ... or a .zip of them)")
            self.ownership.check_capacity(caller_id, count)
            batch_id = uuid.uuid4().hex
            items = [await self._submit(caller_id, batch_id, name, data, error, f_px, input_size, base_url)
                     async for name, data, error in self._photos(sources)]
        finally:
            for kind, source in sources:
                if kind == "zip":
                    source[0].close()
        webhook = {"url": webhook_url, "state": "pending", "attempts": []} if webhook_url else None
        batch = {"batch_id": batch_id, "caller": caller_id, "created": time.time(), "items": items,
                 "skipped": skipped, "webhook": webhook, "base_url": base_url}
        self.ownership.record_batch(batch)
        self.tracking.notifier.follow_batch(batch_id, [i["job_id"] for i in items if i["job_id"]])
        return self.status(batch_id, caller_id)

    async def _submit(self, caller_id: str, batch_id: str, name: str, data: bytes | None, error: str | None,
                      f_px: float | None, input_size: int | None, base_url: str) -> dict[str, Any]:
        """One photo's line: its job, or why it has none (the batch goes on either way)."""
        if error is None:
            try:
                job = await self.service.submit_job(data, f_px, input_size, busy_check=False,
                                                    delivery=Delivery(download_stem(name)))
            except ServiceError as exc:
                error = exc.detail
            else:
                self.tracking.track(job.id, caller_id, batch_id, base_url=base_url, follow=False)
                return {"name": name, "job_id": job.id, "error": None}
        return {"name": name, "job_id": None, "error": error}

    # ------------------------------------------------------------------ read

    def _snapshot(self, job_id: str) -> dict[str, Any] | None:
        try:
            return self.service.job(job_id)
        except ServiceError:
            return None

    def status(self, batch_id: str, caller_id: str) -> dict[str, Any]:
        summary = summarize(self.ownership.batch_record(batch_id, caller_id), self._snapshot)
        for item in summary["items"]:
            if item["state"] == "done" and item.get("output_id"):
                self.ownership.finished(item["job_id"], caller_id, {"result": {"id": item["output_id"]}})
        return summary

    def cancel(self, batch_id: str, caller_id: str) -> dict[str, Any]:
        """Cancel every unfinished job of the batch (idempotent, like a job's cancel)."""
        batch = self.ownership.batch_record(batch_id, caller_id)
        for item in batch["items"]:
            if item.get("job_id"):
                self.service.cancel(item["job_id"])
        return self.status(batch_id, caller_id)

    def zip_members(self, batch_id: str, caller_id: str) -> Iterator[Member]:
        """The download's members: finished scenes, then ``manifest.json``; checked now, read lazily."""
        summary = self.status(batch_id, caller_id)
        taken: set[str] = {"manifest.json"}
        manifest: list[dict[str, Any]] = []
        members: list[Member] = []
        for item in summary["items"]:
            entry = {"photo": item["name"], "file": None, "state": item["state"],
                     "num_gaussians": item["num_gaussians"], "error": item["error"]}
            chunks = self.service.scene_chunks(item["output_id"]) if item.get("output_id") else None
            if item["state"] == "done" and chunks is not None:
                entry["file"] = unique_name(f"{PurePosixPath(item['name']).stem or 'photo'}.ply", taken)
                members.append(Member(entry["file"], chunks))
            elif item["state"] == "done":
                entry.update(state="error", error="the scene was evicted from the cache before the download")
            manifest.append(entry)
        body = json.dumps({"batch_id": batch_id, "state": summary["state"], "counts": summary["counts"],
                           "photos": manifest, "skipped": summary["skipped"]}, indent=2).encode()
        members.append(Member("manifest.json", lambda: [body]))
        return iter(members)

