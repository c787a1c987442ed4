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

from mlsharp.exports import EntryGone, _convert, derived_suffix
from sharpnet.io.registry import get_format


@dataclass(frozen=True)
class Download:
    """Exactly one of: a local file, a URL to redirect to, or chunks to stream."""

    filename: str
    media_type: str
    path: Path | None = None
    url: str | None = None
    chunks: Iterator[bytes] | None = None


async def remote_download(index: Any, output_id: str, fmt: str, max_gaussians: int | None,
                          redirect: bool, expiry_s: int) -> Download:
    spec = get_format(fmt)
    suffix = derived_suffix(spec, max_gaussians)
    name = index.object_name(output_id, suffix)
    store = index.store
    if not await asyncio.to_thread(store.exists, name):
        await asyncio.to_thread(_convert_remote, index, output_id, spec, max_gaussians, suffix)
    tag = f"-{max_gaussians}" if max_gaussians is not None else ""
    filename = f"{output_id}{tag}{spec.suffix}"
    if redirect:
        url = store.presigned_url(name, filename, expiry_s)
        if url is not None:
            return Download(filename, spec.media_type, url=url)
    return Download(filename, spec.media_type, chunks=store.stream(name))


def _convert_remote(index: Any, output_id: str, spec: Any, max_gaussians: int | None, suffix: str) -> None:
    with tempfile.TemporaryDirectory(prefix="mlsharp-convert-") as folder:
        ply = Path(folder) / "scene.ply"
        ply.write_bytes(index.store.get_bytes(index.object_name(output_id, ".ply")))
        staged = Path(folder) / f"scene{suffix}"
        _convert(ply, spec, max_gaussians, staged)
        if index.attach(output_id, suffix, staged) is None:
            raise EntryGone(output_id)
