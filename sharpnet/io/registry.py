"""The one export registry: every download format is an entry here, and nothing else lists them.

Each format is a pure function from a :class:`Scene` (Gaussian-splat vertices in PLY units, plus
SHARP's photo metadata when known) to bytes. A scene comes from the network's
:class:`~sharpnet.gaussians.Gaussians` (:func:`scene_from_gaussians`) or from any Gaussian-splat
``.ply`` on disk (:func:`scene_from_ply`, the project's one PLY reader). The service's routes,
its cache clean-up and the ``predict`` command all derive their format lists and file suffixes
from :data:`FORMATS`; adding a format is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from sharpnet.gaussians import Gaussians
from sharpnet.io.compressed_ply import compressed_ply_bytes
from sharpnet.io.atomic import write_atomic
from sharpnet.io.ply import (
    VERTEX_DTYPE, PlyMetadata, metadata_of, photo_metadata, ply_header, ply_tail_for, read_ply_elements,
    vertex_table,
)
from sharpnet.io.splat import splat_bytes
from sharpnet.io.spz import spz_bytes


@dataclass(frozen=True)
class Scene:
    """What every exporter reads: splat vertices in PLY units, whether they came from the network or
    from another tool's file."""

    vertices: np.ndarray  # structured array with at least the Gaussian-splat PLY properties
    metadata: PlyMetadata | None = None  # SHARP's photo metadata (None: another tool's PLY)

    def __len__(self) -> int:
        return int(len(self.vertices))


@dataclass(frozen=True)
class ExportFormat:
    """One download format: a pure encoder plus the names the routes, the CLI and the cache use for it."""

    name: str  # the URL's and the CLI's word for it
    suffix: str  # what the file name ends with
    media_type: str
    description: str
    encode: Callable[[Scene], bytes]


def _ply(scene: Scene) -> bytes:
    """SHARP's PLY layout; a scene read from one of our files comes back byte for byte."""
    if scene.metadata is None:
        raise ValueError("a .ply export needs SHARP's photo metadata (focal length, image size)")
    rows = np.empty(len(scene), dtype=VERTEX_DTYPE)
    for name in rows.dtype.names:
        rows[name] = scene.vertices[name]
    return ply_header(len(scene)) + rows.tobytes() + ply_tail_for(rows, scene.metadata)


FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ExportFormat("ply", ".ply", "application/octet-stream",
                     "binary PLY in the layout of Apple's SHARP exporter (float32, lossless)", _ply),
        ExportFormat("spz", ".spz", "application/octet-stream",
                     "Niantic's SPZ v3 (gzip, quantised; about a tenth of the PLY)",
                     lambda scene: spz_bytes(scene.vertices)),
        ExportFormat("splat", ".splat", "application/octet-stream",
                     "antimatter15's .splat (32 bytes per Gaussian, for web viewers)",
                     lambda scene: splat_bytes(scene.vertices)),
        ExportFormat("compressed.ply", ".compressed.ply", "application/octet-stream",
                     "PlayCanvas's compressed PLY (16 bytes per Gaussian, for PlayCanvas/SuperSplat)",
                     lambda scene: compressed_ply_bytes(scene.vertices)),
    )
}
SUFFIXES: tuple[str, ...] = tuple(fmt.suffix for fmt in FORMATS.values())


def get_format(name: str) -> ExportFormat:
    """The format called ``name`` (with or without a leading dot); ValueError lists the others."""
    fmt = FORMATS.get(name.lstrip("."))
    if fmt is None:
        raise ValueError(f"unknown export format {name!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def scene_from_gaussians(gaussians: Gaussians, f_px: float, image_width: int, image_height: int) -> Scene:
    return Scene(vertex_table(gaussians), photo_metadata(gaussians, f_px, image_width, image_height))


def scene_from_ply(source: str | Path | bytes) -> Scene:
    elements = read_ply_elements(source)
    return Scene(elements["vertex"], metadata_of(elements))


def export_bytes(scene: Scene, fmt: str | ExportFormat) -> bytes:
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    return fmt.encode(scene)


def export_file(scene: Scene, fmt: str | ExportFormat, path: str | Path) -> Path:
    return write_atomic(path, export_bytes(scene, fmt))
