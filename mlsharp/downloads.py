"""Downloads of outputs that live in a remote store (S3): streamed through the API or redirected.

Outputs in a folder are served as files (:meth:`mlsharp.service.PredictionService.export_for`).
For an S3 store the API either relays the object (``storage.downloads: stream``) or answers 307
with a presigned URL (``redirect``) so the bytes go straight from the bucket to the client.
Derived formats are converted once on this server from a temporary copy of the ``.ply`` and
uploaded beside it, recorded with the entry like a local conversion.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlsharp.delivery import Delivery
from mlsharp.exports import EntryGone, _convert, derived_suffix
from sharpnet.io.registry import get_format


@dataclass(frozen=True)
class Download:
    """Exactly one of: a local file, a URL to redirect to, or chunks to stream; ``disposition``
    is its Content-Disposition (the name it is saved under, :mod:`mlsharp.delivery`)."""

    disposition: str
    media_type: str
    path: Path | None = None
    url: str | None = None
    chunks: Iterator[bytes] | None = None


async def remote_download(index: Any, output_id: str, fmt: str, delivery: Delivery,
                          redirect: bool, expiry_s: int) -> Download:
    spec = get_format(fmt)
    max_gaussians = delivery.max_gaussians
    suffix = derived_suffix(spec, max_gaussians)
    name = index.object_name(output_id, suffix)
    store = index.store
    if not await asyncio.to_thread(store.exists, name):
        await asyncio.to_thread(_convert_remote, index, output_id, spec, max_gaussians, suffix)
    disposition = delivery.disposition(output_id, download_tail(spec, max_gaussians))
    if redirect:
        url = store.presigned_url(name, disposition, expiry_s)
        if url is not None:
            return Download(disposition, spec.media_type, url=url)
    return Download(disposition, spec.media_type, chunks=store.stream(name))


def download_tail(spec: Any, max_gaussians: int | None) -> str:
    """What follows the name of a download: the density tag, if any, then the format's suffix."""
    return (f"-{max_gaussians}" if max_gaussians is not None else "") + spec.suffix


def _convert_remote(index: Any, output_id: str, spec: Any, max_gaussians: int | None, suffix: str) -> None:
    with tempfile.TemporaryDirectory(prefix="mlsharp-convert-") as folder:
        ply = Path(folder) / "scene.ply"
        ply.write_bytes(index.store.get_bytes(index.object_name(output_id, ".ply")))
        staged = Path(folder) / f"scene{suffix}"
        _convert(ply, spec, max_gaussians, staged)
        if index.attach(output_id, suffix, staged) is None:
            raise EntryGone(output_id)
