"""Making the cache's index agree with its folder at start-up, whatever happened to either.

Results are never deleted because the index is broken. An index that cannot be opened (corrupt,
truncated, a directory, a foreign schema) is moved aside for inspection and rebuilt from the
outputs and their sidecars (:mod:`mlsharp.cache_files`); an output without a sidecar is kept
too, downloadable by id under a key no request can produce (``ORPHAN_KEY``). Only with a
healthy (*trusted*) index is an unindexed, sidecar-less output a leftover of a request that
failed, and deleted. A legacy ``index.json`` is imported once, then retired.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from loguru import logger

from mlsharp.cache_files import CacheFiles
from mlsharp.cache_index import CacheEntry, IndexBroken, SqliteIndex
from mlsharp.legacy_index import retire_legacy_index
from mlsharp.output_ids import is_output_suffix, split_name

INDEX_NAME = "index.sqlite3"
ORPHAN_KEY = "file:"  # prefix of the key of an output recovered without its sidecar
PART_GRACE_S = 600.0  # a .part younger than this may still be being written (by another process)


def open_index(directory: Path) -> tuple[SqliteIndex, bool]:
    """The folder's database, and whether it existed and is usable (so it is the truth)."""
    path = directory / INDEX_NAME
    existed = path.exists()
    try:
        return SqliteIndex(path), existed
    except IndexBroken as exc:
        if not existed:
            raise OSError(f"cannot create the cache index {path} ({exc})") from exc
        aside = move_aside(path)
        logger.warning("cache index {} unusable ({}); moved to {} and rebuilt from the files",
                       path, exc, aside.name)
    return SqliteIndex(path), False


def move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
    os.replace(path, aside)
    for extra in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + extra)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + extra))
    return aside


def import_legacy(files: CacheFiles, index: SqliteIndex, entries: list[CacheEntry]) -> None:
    """Entries of a legacy index.json (oldest first), given sidecars, into the database."""
    present = [e for e in entries if files.path_for(e.output_id).is_file()]
    for entry in present:
        files.write_sidecar(entry)
    index.begin()
    try:
        for entry in present:
            if index.by_output(entry.output_id) is None:
                index.insert(entry)
        index.commit()
    except BaseException:
        index.rollback()
        raise
    retire_legacy_index(files.directory)
    logger.info("cache: migrated {} entr{} from index.json", len(present), "y" if len(present) == 1 else "ies")


def _scan(directory: Path) -> dict[str, set[str]]:
    """Each output id in the folder -> its suffixes; stale ``.part`` files are deleted on the way."""
    found: dict[str, set[str]] = {}
    now = time.time()
    for path in directory.iterdir():
        if path.name.endswith(".part"):
            try:
                if path.is_file() and now - path.stat().st_mtime > PART_GRACE_S:
                    path.unlink()
            except FileNotFoundError:
                pass
            continue
        split = split_name(path.name)
        if split and path.is_file():
            found.setdefault(split[0], set()).add(split[1])
    return found


def reconcile(files: CacheFiles, index: SqliteIndex, trusted: bool) -> None:
    """Index what the folder holds and forget what it lost (see the module's docstring)."""
    found = _scan(files.directory)
    indexed = {e.output_id for e in index.all()}
    adopted: list[CacheEntry] = []
    removed = 0
    for output_id, suffixes in found.items():
        if output_id in indexed:
            continue
        if ".ply" not in suffixes:
            files.delete(output_id)  # a sidecar or extra format without its scene
            continue
        entry = files.read_sidecar(output_id)
        if entry is None and not trusted:
            mtime = files.path_for(output_id).stat().st_mtime
            entry = CacheEntry(key=ORPHAN_KEY + output_id, output_id=output_id, meta={}, created=mtime)
        if entry is None:
            files.delete(output_id)  # left by a request that failed
            removed += 1
        else:
            adopted.append(entry)
    vanished = indexed - {k for k, v in found.items() if ".ply" in v}
    kept = (indexed - vanished) | {e.output_id for e in adopted}
    index.begin()
    try:
        for output_id in vanished:
            index.delete(output_id)  # its scene vanished
        index.insert_many(sorted(adopted, key=lambda e: e.created))
        for output_id in kept:
            for suffix in {x for x in found.get(output_id, set()) if x != ".ply" and is_output_suffix(x)}:
                index.add_format(output_id, suffix)
        index.commit()
    except BaseException:
        index.rollback()
        raise
    for output_id in vanished:
        files.delete(output_id)  # what is left of it (an extra format, the sidecar)
    if adopted:
        logger.info("cache: re-indexed {} output(s) found in {}", len(adopted), files.directory)
    if removed:
        logger.info("cache: removed {} file(s) not in the index", removed)
