"""Photos out of an uploaded ``.zip``, read so that a zip bomb cannot exhaust memory or disk.

Limits are checked twice: first on the central directory (member count, declared sizes, their
sum) before anything is decompressed, so an archive over the limits is refused at once; then
while decompressing, where each member is read in chunks and abandoned as soon as it passes what
it declared or what the batch has left -- a header may lie about sizes, the output cannot. Only
photo-named members are taken (see :func:`sharpnet.utils.photo_files.is_photo_name`); folders,
hidden files and macOS ``__MACOSX`` forks are skipped, other names are listed as skipped. Only
the member's base name is kept, so ``../../x.jpg`` names nothing outside the batch.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

from sharpnet.utils.photo_files import is_photo_name

CHUNK = 1 << 20


class ArchiveTooLarge(ValueError):
    """The archive exceeds the batch limits (the route answers 413)."""


class BadArchive(ValueError):
    """The upload is not a readable zip archive (the route answers 400)."""


@dataclass
class ArchivePhoto:
    name: str
    data: bytes | None = None
    error: str | None = None  # why this member cannot be used (the batch reports it)


@dataclass
class ArchivePlan:
    """What a zip holds, judged from its directory alone."""

    photos: list[zipfile.ZipInfo] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    declared_bytes: int = 0


def _hidden(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.name.startswith(".") or "__MACOSX" in path.parts


def plan(archive: zipfile.ZipFile, max_files: int, max_bytes: int) -> ArchivePlan:
    """Which members are photos; :class:`ArchiveTooLarge` when their count or declared size is over."""
    result = ArchivePlan()
    for info in archive.infolist():
        if info.is_dir() or _hidden(info.filename):
            continue
        if not is_photo_name(info.filename):
            result.skipped.append(info.filename)
            continue
        result.photos.append(info)
        result.declared_bytes += info.file_size
        if len(result.photos) > max_files:
            raise ArchiveTooLarge(f"Too many photos: the zip holds more than {max_files} photos, the most a batch takes")
        if result.declared_bytes > max_bytes:
            raise ArchiveTooLarge(
                f"Batch too large: the zip's photos unpack to more than the {max_bytes / 1e6:g} MB limit"
            )
    return result


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    parts, size = [], 0
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ArchiveTooLarge(f"{info.filename}: unpacks to more than its share of the batch limit")
            parts.append(chunk)
    return b"".join(parts)


def open_archive(file: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadArchive(f"the .zip cannot be read ({exc})") from None


def read_photos(archive: zipfile.ZipFile, chosen: ArchivePlan, budget: int) -> Iterator[ArchivePhoto]:
    """Each planned photo's bytes (or its error), one at a time, never more than ``budget`` in total.

    ``ArchiveTooLarge`` is raised when the decompressed bytes pass ``budget`` (a lying header).
    """
    for info in chosen.photos:
        name = PurePosixPath(info.filename.replace("\\", "/")).name
        if info.flag_bits & 0x1:
            yield ArchivePhoto(name, error="the zip member is encrypted")
            continue
        limit = min(info.file_size, budget)
        try:
            data = _read_bounded(archive, info, limit)
        except ArchiveTooLarge:
            raise
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError) as exc:
            yield ArchivePhoto(name, error=f"the zip member cannot be unpacked ({exc})")
            continue
        budget -= len(data)
        yield ArchivePhoto(name, data=data)
