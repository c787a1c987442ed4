"""Derived files of an output, named and made in one place: conversions, density variants, depth maps.

An output is ``<id>.ply`` (what the worker writes). Everything else about it lives beside it and is
recorded with its cache entry (so eviction and clearing delete it too):

* ``<id><suffix>`` -- the scene in another format of :data:`sharpnet.io.registry.FORMATS`;
* ``<id>.n<N><suffix>`` -- the scene reduced to at most N Gaussians (:mod:`sharpnet.density`),
  in any format, ``.ply`` included;
* ``<id>.depth.png`` / ``<id>.depthcolor.png`` -- the depth map and its colourised preview.

Importing this module registers every registry suffix with the cache
(:func:`mlsharp.cache.register_suffix`), so a new format in the registry needs no change there.
Conversions run once per file at a time, written to a staged ``.part`` file and attached to the
cache entry atomically: a crash leaves at most the ``.part``, which the cache's start-up removes.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from mlsharp.cache import ResultCache, register_suffix
from sharpnet.io.registry import FORMATS, SUFFIXES, ExportFormat, export_file, get_format

MAX_GAUSSIANS = 100_000_000  # a max_gaussians above any scene's size keeps every Gaussian
DEPTH_SUFFIX = ".depth.png"
DEPTH_COLOR_SUFFIX = ".depthcolor.png"
for _suffix in (*SUFFIXES, DEPTH_SUFFIX, DEPTH_COLOR_SUFFIX):
    register_suffix(_suffix)


class EntryGone(LookupError):
    """The output was evicted (or cleared) while its conversion ran."""


def derived_suffix(fmt: ExportFormat, max_gaussians: int | None = None) -> str:
    return (f".n{max_gaussians}" if max_gaussians is not None else "") + fmt.suffix


def formats_description() -> list[dict[str, str]]:
    """The formats as ``/api/health`` lists them."""
    return [{"name": f.name, "suffix": f.suffix, "description": f.description} for f in FORMATS.values()]


class Exporter:
    """Makes the derived files of outputs on demand, each at most once at a time."""

    def __init__(self) -> None:
        self._locks: dict[Path, asyncio.Lock] = {}

    async def derived(self, store: ResultCache, output_id: str, fmt: str | ExportFormat,
                      max_gaussians: int | None = None) -> Path:
        """The output in ``fmt`` (reduced to ``max_gaussians``), converted on the first request.

        Raises ValueError for an unknown format, :class:`EntryGone` if the output went meanwhile,
        and whatever writing raised (the caller words disk trouble)."""
        fmt = get_format(fmt) if isinstance(fmt, str) else fmt
        ply = store.path_for(output_id, ".ply")
        if max_gaussians is None and fmt.name == "ply":
            return ply
        suffix = derived_suffix(fmt, max_gaussians)
        target = store.path_for(output_id, suffix)
        if target.is_file():
            return target
        lock = self._locks.setdefault(target, asyncio.Lock())
        try:
            async with lock:
                if target.is_file():
                    return target
                staged = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
                try:
                    await asyncio.to_thread(_convert, ply, fmt, max_gaussians, staged)
                    placed = store.attach(output_id, suffix, staged)
                finally:
                    staged.unlink(missing_ok=True)
                if placed is None:
                    raise EntryGone(output_id)
                return placed
        finally:
            if not lock.locked():
                self._locks.pop(target, None)


def _convert(ply: Path, fmt: ExportFormat, max_gaussians: int | None, target: Path) -> None:
    from sharpnet.density import reduce_scene
    from sharpnet.io.registry import scene_from_ply

    scene = scene_from_ply(ply)
    if max_gaussians is not None:
        scene = reduce_scene(scene, max_gaussians)
    export_file(scene, fmt, target)
