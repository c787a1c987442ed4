"""Derived files of an output, named and made in one place: conversions, density variants, depth maps.

An output is ``<id>.ply`` (what the worker writes). Everything else about it lives beside it and is
recorded with its cache entry (so eviction and clearing delete it too):

* ``<id><suffix>`` -- the scene in another format of :data:`sharpnet.io.registry.FORMATS`;
* ``<id>.n<N><suffix>`` -- the scene reduced to at most N Gaussians (:mod:`sharpnet.density`),
  in any format, ``.ply`` included;
* ``<id>.depth.png`` / ``<id>.depthcolor.png`` -- the depth map and its colourised preview.

Importing this module registers every registry suffix with the cache
(:func:`mlsharp.output_ids.register_suffix`), so a new format in the registry needs no change there.
Conversions run once per file at a time, written to a staged ``.part`` file and attached to the
cache entry atomically: a crash leaves at most the ``.part``, which the cache's start-up removes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from mlsharp.cache import ResultCache
from mlsharp.output_ids import register_suffix
from sharpnet.density import reduce_scene
from sharpnet.io.atomic import write_atomic
from sharpnet.io.depth import depth_map, depth_png16, depth_preview_png
from sharpnet.io.registry import FORMATS, SUFFIXES, ExportFormat, Scene, get_format, scene_from_ply

MAX_GAUSSIANS = 100_000_000  # a max_gaussians above any scene's size keeps every Gaussian
DEPTH_SUFFIX = ".depth.png"
DEPTH_COLOR_SUFFIX = ".depthcolor.png"
for _suffix in (*SUFFIXES, DEPTH_SUFFIX, DEPTH_COLOR_SUFFIX):
    register_suffix(_suffix)


class EntryGone(LookupError):
    """The output was evicted (or cleared) while its conversion ran."""


def derived_suffix(fmt: ExportFormat, max_gaussians: int | None = None) -> str:
    return (f".n{max_gaussians}" if max_gaussians is not None else "") + fmt.suffix


def download_urls(output_id: str) -> dict[str, str]:
    """Format name -> download URL, for a prediction's answer."""
    return {name: f"/api/outputs/{output_id}.{name}" for name in FORMATS}


def formats_description() -> list[dict[str, str]]:
    """The formats as ``/api/health`` lists them."""
    return [{"name": f.name, "suffix": f.suffix, "description": f.description} for f in FORMATS.values()]


def _depth_png(scene: Scene) -> bytes:
    return depth_png16(depth_map(scene.vertices, _metadata(scene)))


def _depth_color_png(scene: Scene) -> bytes:
    return depth_preview_png(depth_map(scene.vertices, _metadata(scene)))


def _metadata(scene: Scene):
    if scene.metadata is None:
        raise ValueError("this output has no photo metadata, so no depth map")
    return scene.metadata


DEPTH_IMAGES: dict[str, Callable[[Scene], bytes]] = {DEPTH_SUFFIX: _depth_png, DEPTH_COLOR_SUFFIX: _depth_color_png}


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
        if max_gaussians is None and fmt.name == "ply":
            return store.path_for(output_id, ".ply")
        return await self.make(store, output_id, derived_suffix(fmt, max_gaussians), fmt.encode, max_gaussians)

    async def depth(self, store: ResultCache, output_id: str, suffix: str) -> Path:
        """The depth map (:data:`DEPTH_SUFFIX`) or its colourised preview, made on first request."""
        return await self.make(store, output_id, suffix, DEPTH_IMAGES[suffix])

    async def make(self, store: ResultCache, output_id: str, suffix: str,
                   encode: Callable[[Scene], bytes], max_gaussians: int | None = None) -> Path:
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
                    ply = store.path_for(output_id, ".ply")
                    await asyncio.to_thread(_convert, ply, encode, max_gaussians, staged)
                    placed = store.attach(output_id, suffix, staged)
                finally:
                    staged.unlink(missing_ok=True)
                if placed is None:
                    raise EntryGone(output_id)
                return placed
        finally:
            if not lock.locked():
                self._locks.pop(target, None)


def _convert(ply: Path, encode: Callable[[Scene], bytes], max_gaussians: int | None, target: Path) -> None:
    scene = scene_from_ply(ply)
    if max_gaussians is not None:
        scene = reduce_scene(scene, max_gaussians)
    write_atomic(target, encode(scene))
