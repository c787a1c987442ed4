"""The worker-side steps of one job, shared by every engine (so outputs are byte-identical).

They run in a process whose backend is loaded (:func:`mlsharp.worker.init_worker`): a local pool
worker or a ``python app.py worker`` process. Two steps, because the engine looks the decoded
photo's cache key up between them (same pixels in another file -> no network run):

* :func:`prepare` -- read the photo from its store, decode it (EXIF, focal length, limits) and
  hash the pixels; the decoded photo is held in this process for :func:`execute`.
* :func:`execute` -- run the network, write the PLY under a temporary name and publish it at the
  job's output URI atomically (rename in a folder, one PUT/multipart upload in S3).

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

_held: dict[str, Any] = {}  # job id -> decoded photo, between prepare and execute (one at a time)


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


def prepare(spec: JobSpec, s3: S3Settings | None = None) -> Prepared:
    start = time.perf_counter()
    store, key = open_object(spec.photo, s3)
    photo = decode(store.get_bytes(key), spec.f_px, spec.max_pixels)
    backend, loaded = worker.loaded()
    _held.clear()
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


def execute(spec: JobSpec, s3: S3Settings | None = None,
            report: Callable[[str], None] | None = None, keep_photo: bool = False) -> Executed:
    """``keep_photo``: the decoded photo stays held for another execute (a progressive job's draft)."""
    from mlsharp.lifeline import parent_alive, publish
    from sharpnet.io.ply import save_ply

    report = report or worker.report
    photo = _held.get(spec.job_id) if keep_photo else _held.pop(spec.job_id, None)
    if photo is None:  # a fresh process (e.g. restarted between the steps): decode again
        prepare(spec, s3)
        photo = _held[spec.job_id] if keep_photo else _held.pop(spec.job_id)
    backend, _ = worker.loaded()
    report("inference")
    t0 = time.perf_counter()
    gaussians = backend.predict(photo.rgb, photo.f_px, spec.side)
    t1 = time.perf_counter()
    report("saving")
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
            if parent_alive():
                store.put_file(key, staged)
        finally:
            staged.unlink(missing_ok=True)
    t2 = time.perf_counter()
    return Executed(len(gaussians), t1 - t0, t2 - t1, os.getpid(), getattr(backend, "last_forward_s", None))

