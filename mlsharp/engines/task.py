"""The worker-side steps of one job, shared by every engine (so outputs are byte-identical).

They run in a process whose backend is loaded (:func:`mlsharp.worker.init_worker`): a local pool
worker or a ``python app.py worker`` process. Two steps, because the engine looks the decoded
photo's cache key up between them (same pixels in another file -> no network run):

* :func:`prepare` -- read the photo from its store, decode it (EXIF, focal length, limits) and
  hash the pixels; the decoded photo is held in this process for :func:`execute`.
* :func:`execute` -- run the network, write the PLY under a temporary name and publish it at the
  job's output URI atomically (rename in a folder, one PUT/multipart upload in S3).
* :func:`execute_batch` -- the same for several jobs at one input side through one forward
  (``optimization.max_batch_size``); each job still gets its own PLY, or its own error.

Bad input raises :class:`mlsharp.intake.BadInput`; everything else is the engine's to map.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlsharp import worker
from mlsharp.engines import JobSpec
from mlsharp.intake import decode, pixel_key
from mlsharp.storage import S3Settings, open_object

_held: dict[str, Any] = {}  # job id -> decoded photo, between prepare and execute (one job, or one batch)


@dataclass(frozen=True)
class Prepared:
    key: str  # the result's cache key (decoded pixels + focal length + input size + model)
    meta: dict[str, Any] = field(default_factory=dict)
    image_load: float = 0.0
    draft_key: str | None = None  # the same for the draft side of a progressive job


@dataclass(frozen=True)
class Executed:
    num_gaussians: int
    inference: float
    ply_save: float
    pid: int
    forward: float | None = None  # the network's forward pass within ``inference`` (sharp only)
    batch_size: int = 1  # photos computed in the same forward (their ``inference`` is the batch's)


def prepare(spec: JobSpec, s3: S3Settings | None = None, keep: tuple[str, ...] = ()) -> Prepared:
    """``keep``: the other jobs of this batch, whose decoded photos stay held; any other photo
    still held belongs to a job that went away and is dropped."""
    start = time.perf_counter()
    store, key = open_object(spec.photo, s3)
    photo = decode(store.get_bytes(key), spec.f_px, spec.max_pixels)
    backend, loaded = worker.loaded()
    for held in [job_id for job_id in _held if job_id not in keep]:
        del _held[held]
    _held[spec.job_id] = photo
    meta = {
        "backend": loaded.name,
        "num_gaussians": 0,
        "f_px": photo.f_px,
        "focal_source": photo.focal_source,
        "image_width": photo.width,
        "image_height": photo.height,
        "input_size": spec.side,
        "input_size_reason": spec.side_reason,
    }
    digest = pixel_key(photo.rgb, photo.f_px, spec.side, loaded.identity)
    draft = pixel_key(photo.rgb, photo.f_px, spec.draft_side, loaded.identity) if spec.draft_side else None
    return Prepared(digest, meta, time.perf_counter() - start, draft)


def _photo_for(spec: JobSpec, s3: S3Settings | None, keep_photo: bool) -> Any:
    """The decoded photo held for ``spec``; decoded again in a fresh process (e.g. restarted
    between the steps). ``keep_photo``: it stays held for another execute (a draft's)."""
    photo = _held.get(spec.job_id) if keep_photo else _held.pop(spec.job_id, None)
    if photo is None:
        prepare(spec, s3, keep=tuple(_held))
        photo = _held[spec.job_id] if keep_photo else _held.pop(spec.job_id)
    return photo


def _publish(gaussians: Any, photo: Any, spec: JobSpec, s3: S3Settings | None) -> None:
    """Write the PLY under a temporary name and publish it at the job's output atomically."""
    from mlsharp.lifeline import publish, publish_with
    from sharpnet.io.ply import save_ply

    store, key = open_object(spec.output, s3)
    final = store.local_path(key)
    if final is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
        for leftover in final.parent.glob(f".{final.name}.*.part"):  # an earlier attempt's, killed
            leftover.unlink(missing_ok=True)
        staged = final.with_name(f".{final.name}.{os.getpid()}.part")
        save_ply(gaussians, photo.f_px, photo.width, photo.height, staged)
        publish(staged, final)  # not if the server that started this worker died meanwhile
    else:
        handle, name = tempfile.mkstemp(suffix=".ply.part")
        os.close(handle)
        staged = Path(name)
        try:
            save_ply(gaussians, photo.f_px, photo.width, photo.height, staged)
            publish_with(staged, lambda path: store.put_file(key, path))
        finally:
            staged.unlink(missing_ok=True)


def execute(spec: JobSpec, s3: S3Settings | None = None,
            report: Callable[[str], None] | None = None, keep_photo: bool = False) -> Executed:
    """``keep_photo``: the decoded photo stays held for another execute (a progressive job's draft)."""
    report = report or worker.report
    photo = _photo_for(spec, s3, keep_photo)
    backend, _ = worker.loaded()
    report("inference")
    t0 = time.perf_counter()
    gaussians = backend.predict(photo.rgb, photo.f_px, spec.side)
    t1 = time.perf_counter()
    report("saving")
    _publish(gaussians, photo, spec, s3)
    t2 = time.perf_counter()
    return Executed(len(gaussians), t1 - t0, t2 - t1, os.getpid(), getattr(backend, "last_forward_s", None))


def _forward_all(backend: Any, photos: list[Any], side: int) -> tuple[list[Any], int]:
    """Every photo's Gaussians (or its error) and how many shared a forward: one forward where the
    backend can batch (sharp). When the batched forward fails, each photo is computed alone, so
    one photo cannot fail the others."""
    batched = getattr(backend, "predict_batch", None)
    if batched is not None and len(photos) > 1:
        try:
            return list(batched([p.rgb for p in photos], [p.f_px for p in photos], side)), len(photos)
        except Exception:  # noqa: BLE001 - e.g. out of memory at this batch size: one by one
            pass
    out: list[Any] = []
    for photo in photos:
        try:
            out.append(backend.predict(photo.rgb, photo.f_px, side))
        except Exception as exc:  # noqa: BLE001 - this photo's own error, returned as its result
            out.append(exc)
    return out, 1


def execute_batch(specs: list[JobSpec], s3: S3Settings | None = None,
                  keep_photos: list[bool] | None = None) -> list[Executed | BaseException]:
    """:func:`execute` for jobs of one input side through one forward: one result per job, in
    order -- its :class:`Executed`, or the exception that ended it (returned, not raised, so the
    others are still written). ``inference`` is the shared forward's time."""
    if len({spec.side for spec in specs}) != 1:
        raise ValueError("a batch computes one input side")
    keep_photos = keep_photos or [False] * len(specs)
    results: list[Any] = [None] * len(specs)
    photos: dict[int, Any] = {}
    for i, (spec, keep) in enumerate(zip(specs, keep_photos)):
        try:
            photos[i] = _photo_for(spec, s3, keep)
        except Exception as exc:  # noqa: BLE001 - e.g. its photo vanished from the store
            results[i] = exc
    backend, _ = worker.loaded()
    worker.report("inference")
    t0 = time.perf_counter()
    gaussians_each, shared = _forward_all(backend, list(photos.values()), specs[0].side)
    computed = dict(zip(photos, gaussians_each))
    inference = time.perf_counter() - t0
    forward = getattr(backend, "last_forward_s", None)
    worker.report("saving")
    for i, gaussians in computed.items():
        if isinstance(gaussians, BaseException):
            results[i] = gaussians
            continue
        t1 = time.perf_counter()
        try:
            _publish(gaussians, photos[i], specs[i], s3)
        except Exception as exc:  # noqa: BLE001 - e.g. its output folder is not writable
            results[i] = exc
            continue
        results[i] = Executed(len(gaussians), inference, time.perf_counter() - t1, os.getpid(), forward,
                              batch_size=shared)
    return results
