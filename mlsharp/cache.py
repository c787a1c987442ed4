"""Result cache: an LRU of finished outputs on disk, indexed in SQLite (:mod:`mlsharp.cache_index`).

Invariants, and how they are kept:

* Results are never deleted because the index is broken. Every cached output carries a sidecar
  ``<id>.json`` (its key, meta and creation time), written before its row. An index that cannot be
  opened (corrupt, truncated, a directory, a foreign schema) is moved aside and rebuilt from the
  outputs and their sidecars; an output without a sidecar is kept too, downloadable by id under a
  key no request can produce. Only with a healthy index is an unindexed, sidecar-less output a
  leftover (of a request that failed) and deleted.
* The index never serves a missing file: :meth:`ResultCache.get` checks the file and drops the row.
* A hit does one indexed lookup and one best-effort row update; a failed update (full disk,
  read-only disk, a busy writer in another process) never fails the hit.
* Extra formats of an output (``.spz`` ...) are attached through :meth:`ResultCache.attach`, which
  renames the file into place and records it in the same transaction that checks the entry still
  exists -- so an eviction racing a conversion cannot leave an orphan. Clearing and eviction
  delete every recorded format, every known suffix, then the sidecar.
* :meth:`ResultCache.clear` forgets an entry only once its files are gone: on a read-only disk it
  forgets nothing it could not delete, and says how far it got (:class:`ClearIncomplete`).
* One ``threading.Lock`` serialises this process's use of its connection; SQLite's locking (WAL,
  busy timeout) serialises processes.

The same class doubles as the bounded store of *uncached* outputs (``persist=False``): an
in-memory index, no sidecars, everything in the folder removed at start.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from loguru import logger

from mlsharp.cache_index import CacheEntry, IndexBroken, SqliteIndex
from mlsharp.diskerrors import DiskTrouble, disk_problem
from mlsharp.legacy_index import read_legacy_index, retire_legacy_index

__all__ = ["CacheEntry", "ClearIncomplete", "ResultCache", "is_output_id", "new_output_id",
           "is_output_suffix", "output_suffixes", "register_suffix"]

OUTPUT_ID_RE = re.compile(r"[0-9a-f]{32}")
INDEX_NAME = "index.sqlite3"
SIDECAR = ".json"
ORPHAN_KEY = "file:"  # prefix of the key of an output recovered without its sidecar
PART_GRACE_S = 600.0  # a .part younger than this may still be being written (by another process)
_SUFFIXES: list[str] = [".ply", ".spz"]


def register_suffix(suffix: str) -> None:
    """Make ``suffix`` an output format: servable by :meth:`ResultCache.path_for`, deleted with its
    entry. The export registry calls this for each format it can write."""
    if not re.fullmatch(r"\.[a-z0-9]{1,16}(\.[a-z0-9]{1,8})?", suffix) or suffix == SIDECAR:
        raise ValueError(f"not a usable output suffix: {suffix!r}")
    if suffix not in _SUFFIXES:
        _SUFFIXES.append(suffix)


def output_suffixes() -> tuple[str, ...]:
    return tuple(_SUFFIXES)


_DENSITY_TAG = re.compile(r"\.n[1-9][0-9]{0,9}(?=\.)")  # ".n200000.spz": a reduced scene (mlsharp.exports)


def is_output_suffix(suffix: str) -> bool:
    """A registered suffix, or one behind a density tag (any N, without registering each)."""
    return suffix in _SUFFIXES or _DENSITY_TAG.sub("", suffix, count=1) in _SUFFIXES


def new_output_id() -> str:
    """Random, unguessable and safe in a file name (never derived from user input)."""
    return uuid.uuid4().hex


def is_output_id(value: str) -> bool:
    return OUTPUT_ID_RE.fullmatch(value) is not None


class ClearIncomplete(DiskTrouble):
    """Clearing stopped at files it could not delete; those entries are still indexed."""

    def __init__(self, detail: str, cleared: int, kept: int) -> None:
        super().__init__(detail)
        self.cleared, self.kept = cleared, kept


def _split_name(name: str) -> tuple[str, str] | None:
    """``(output_id, suffix)`` for ``<32 hex><suffix>``, else None."""
    stem, dot, rest = name.partition(".")
    return (stem, dot + rest) if dot and is_output_id(stem) else None


class ResultCache:
    def __init__(self, directory: str | Path, max_size: int, enabled: bool = True, persist: bool = True) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.directory = Path(directory)
        self.max_size = max_size
        self.enabled = enabled
        self.persist = persist
        self.hits = 0
        self.misses = 0
        self._index = SqliteIndex(":memory:")
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ files

    def path_for(self, output_id: str, suffix: str = ".ply") -> Path:
        if not is_output_id(output_id) or not is_output_suffix(suffix):
            raise ValueError("invalid output id or suffix")
        return self.directory / f"{output_id}{suffix}"

    def _sidecar(self, output_id: str) -> Path:
        return self.directory / f"{output_id}{SIDECAR}"

    def _write_sidecar(self, entry: CacheEntry) -> None:
        if not self.persist:
            return
        target = self._sidecar(entry.output_id)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        payload = {"key": entry.key, "meta": entry.meta, "created": entry.created}
        try:
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def _read_sidecar(self, output_id: str) -> CacheEntry | None:
        try:
            raw = json.loads(self._sidecar(output_id).read_text(encoding="utf-8"))
            return CacheEntry(key=str(raw["key"]), output_id=output_id, meta=dict(raw["meta"]),
                              created=float(raw["created"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _delete_files(self, output_id: str, extra: list[str] = (), strict: bool = False) -> None:
        """Every format of ``output_id``, then its sidecar. ``strict``: raise on the first failure
        (so the caller keeps the entry); otherwise log and go on."""
        suffixes = dict.fromkeys([*_SUFFIXES, *extra, SIDECAR])
        for suffix in suffixes:
            try:
                (self.directory / f"{output_id}{suffix}").unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                if strict:
                    raise
                logger.warning("could not delete cached file {}{}: {}", output_id, suffix, exc)

    # ------------------------------------------------------------------ lifecycle

    def load(self) -> int:
        """Open (or rebuild) the index and make it agree with the files; returns the entry count."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._index.close()
            if not self.persist:
                self._index = SqliteIndex(":memory:")
                for path in self.directory.iterdir():
                    if path.is_file() and (_split_name(path.name) or path.name.endswith(".part")):
                        path.unlink(missing_ok=True)
                return 0
            trusted = self._open_index()
            legacy = read_legacy_index(self.directory, is_output_id)
            if legacy is not None and legacy.entries is not None:
                self._import(legacy.entries)
                trusted = True  # it named every output that was still wanted
            elif legacy is not None:
                trusted = False
            self._reconcile(trusted)
            self._trim()
            return self._index.count()

    def _open_index(self) -> bool:
        """Open the database; True when it existed and is usable (so it is the truth)."""
        path = self.directory / INDEX_NAME
        existed = path.exists()
        try:
            self._index = SqliteIndex(path)
            return existed
        except IndexBroken as exc:
            if not existed:
                raise OSError(f"cannot create the cache index {path} ({exc})") from exc
            aside = self._move_aside(path)
            logger.warning("cache index {} unusable ({}); moved to {} and rebuilt from the files",
                           path, exc, aside.name)
        self._index = SqliteIndex(path)
        return False

    def _move_aside(self, path: Path) -> Path:
        aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
        os.replace(path, aside)
        for extra in ("-wal", "-shm", "-journal"):
            side = path.with_name(path.name + extra)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + extra))
        return aside

    def _import(self, entries: list[CacheEntry]) -> None:
        """Entries of a legacy index.json (oldest first), given sidecars, into the database."""
        present = [e for e in entries if self.path_for(e.output_id).is_file()]
        for entry in present:
            self._write_sidecar(entry)
        self._index.begin()
        try:
            for entry in present:
                if self._index.by_output(entry.output_id) is None:
                    self._index.insert(entry)
            self._index.commit()
        except BaseException:
            self._index.rollback()
            raise
        retire_legacy_index(self.directory)
        logger.info("cache: migrated {} entr{} from index.json", len(present), "y" if len(present) == 1 else "ies")

    def _reconcile(self, trusted: bool) -> None:
        files: dict[str, set[str]] = {}
        now = time.time()
        for path in self.directory.iterdir():
            if path.name.endswith(".part"):
                try:
                    if path.is_file() and now - path.stat().st_mtime > PART_GRACE_S:
                        path.unlink()
                except FileNotFoundError:
                    pass
                continue
            split = _split_name(path.name)
            if split and path.is_file():
                files.setdefault(split[0], set()).add(split[1])
        indexed = {e.output_id for e in self._index.all()}
        adopted: list[CacheEntry] = []
        removed = 0
        for output_id, suffixes in files.items():
            if output_id in indexed:
                continue
            if ".ply" not in suffixes:
                self._delete_files(output_id)  # a sidecar or extra format without its scene
                continue
            entry = self._read_sidecar(output_id)
            if entry is None and not trusted:
                mtime = self.path_for(output_id).stat().st_mtime
                entry = CacheEntry(key=ORPHAN_KEY + output_id, output_id=output_id, meta={}, created=mtime)
            if entry is None:
                self._delete_files(output_id)  # left by a request that failed
                removed += 1
            else:
                adopted.append(entry)
        vanished = indexed - {k for k, v in files.items() if ".ply" in v}
        kept = (indexed - vanished) | {e.output_id for e in adopted}
        self._index.begin()
        try:
            for output_id in vanished:
                self._index.delete(output_id)  # its scene vanished
            self._index.insert_many(sorted(adopted, key=lambda e: e.created))
            for output_id in kept:
                for suffix in {x for x in files.get(output_id, set()) if x != ".ply" and is_output_suffix(x)}:
                    self._index.add_format(output_id, suffix)
            self._index.commit()
        except BaseException:
            self._index.rollback()
            raise
        for output_id in vanished:
            self._delete_files(output_id)  # what is left of it (an extra format, the sidecar)
        if adopted:
            logger.info("cache: re-indexed {} output(s) found in {}", len(adopted), self.directory)
        if removed:
            logger.info("cache: removed {} file(s) not in the index", removed)

    def _trim(self) -> None:
        excess = self._index.count() - self.max_size
        if excess <= 0:
            return
        victims = self._index.oldest(excess)
        self._index.begin()
        try:
            formats = self._forget(victims)
            self._index.commit()
        except BaseException:
            self._index.rollback()
            raise
        self._delete_all(victims, formats)

    def _forget(self, entries: list[CacheEntry]) -> dict[str, list[str]]:
        """Delete the rows (inside the caller's transaction); returns each one's recorded formats."""
        formats = {e.output_id: self._index.formats(e.output_id) for e in entries}
        for entry in entries:
            self._index.delete(entry.output_id)
        return formats

    def _delete_all(self, entries: list[CacheEntry], formats: dict[str, list[str]]) -> None:
        for entry in entries:
            self._delete_files(entry.output_id, formats.get(entry.output_id, []))

    def close(self) -> None:
        with self._lock:
            self._index.close()

    # ------------------------------------------------------------------ lookups

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` (marking it most recently used, best effort), counting a hit or miss."""
        if not self.enabled:
            return None
        with self._lock:
            try:
                entry = self._index.get(key)
            except sqlite3.Error as exc:
                logger.warning("cache lookup failed ({}); answering as a miss", exc)
                entry = None
            if entry is not None and not self.path_for(entry.output_id).is_file():
                self._forget_quietly(entry.output_id)  # deleted behind our back: never serve it
                entry = None
            if entry is None:
                self.misses += 1
                return None
            try:
                self._index.touch(key)
            except sqlite3.Error as exc:  # full or read-only disk, a long writer elsewhere
                logger.debug("cache recency not updated ({})", exc)
            self.hits += 1
            return entry

    def _forget_quietly(self, output_id: str) -> None:
        try:
            self._index.delete(output_id)
        except sqlite3.Error:
            pass

    def peek(self, key: str) -> CacheEntry | None:
        """Like :meth:`get` but counts nothing and keeps the LRU order."""
        with self._lock:
            try:
                entry = self._index.get(key)
            except sqlite3.Error:
                return None
            return entry if entry is not None and self.path_for(entry.output_id).is_file() else None

    def find_output(self, output_id: str) -> CacheEntry | None:
        with self._lock:
            try:
                return self._index.by_output(output_id)
            except sqlite3.Error:
                return None

    def output_ids(self) -> set[str]:
        with self._lock:
            return {e.output_id for e in self._index.all()}

    # ------------------------------------------------------------------ updates

    def _disk_trouble(self, exc: BaseException) -> DiskTrouble | None:
        reason = disk_problem(exc, self.directory)
        return DiskTrouble(reason) if reason else None

    def put(self, key: str, output_id: str, meta: dict[str, Any]) -> CacheEntry:
        """Index a finished output; returns the entry now stored for ``key``.

        If another request stored ``key`` first, that entry wins and the caller's files are
        deleted (the caller should answer with the returned entry's id). Disk trouble raises
        :class:`DiskTrouble` and leaves the caller's files for it to discard.
        """
        entry = CacheEntry(key=key, output_id=output_id, meta=dict(meta), created=time.time())
        with self._lock:
            try:
                return self._put(entry)
            except (OSError, sqlite3.Error) as exc:
                trouble = self._disk_trouble(exc)
                if trouble is None:
                    raise
                raise trouble from exc

    def _put(self, entry: CacheEntry) -> CacheEntry:
        self._write_sidecar(entry)
        evicted: list[CacheEntry] = []
        self._index.begin()
        try:
            existing = self._index.get(entry.key)
            if existing is not None and existing.output_id != entry.output_id \
                    and self.path_for(existing.output_id).is_file():
                self._index.touch(entry.key)
                self._index.commit()
                self._delete_files(entry.output_id)
                return existing
            if existing is not None:
                self._index.delete(existing.output_id)
            self._index.insert(entry)
            excess = self._index.count() - self.max_size
            evicted = self._index.oldest(excess) if excess > 0 else []
            formats = self._forget(evicted)
            self._index.commit()
        except BaseException:
            self._index.rollback()
            if self.persist:
                self._sidecar(entry.output_id).unlink(missing_ok=True)
            raise
        self._delete_all(evicted, formats)
        return entry

    def attach(self, output_id: str, suffix: str, staged: Path) -> Path | None:
        """Move ``staged`` into place as ``output_id``'s ``suffix`` file, recorded with its entry;
        None (and ``staged`` deleted) when the entry is gone meanwhile."""
        target = self.path_for(output_id, suffix)
        with self._lock:
            self._index.begin()
            try:
                if self._index.by_output(output_id) is None:
                    self._index.rollback()
                    staged.unlink(missing_ok=True)
                    return None
                self._index.add_format(output_id, suffix)
                os.replace(staged, target)
                self._index.commit()
            except BaseException as exc:
                self._index.rollback()
                staged.unlink(missing_ok=True)
                trouble = self._disk_trouble(exc)
                if trouble is not None:
                    raise trouble from exc
                raise
        return target

    def clear(self) -> int:
        """Delete every entry's files and forget it; returns how many. Counters are kept."""
        with self._lock:
            cleared, entries = 0, list(self._index.all())
            for entry in entries:
                try:
                    self._delete_files(entry.output_id, self._index.formats(entry.output_id), strict=True)
                    self._index.delete(entry.output_id)
                except (OSError, sqlite3.Error) as exc:
                    reason = disk_problem(exc, self.directory) or f"cannot delete in {self.directory} ({exc})"
                    kept = len(entries) - cleared
                    raise ClearIncomplete(f"{reason}; cleared {cleared} of {len(entries)} entries, "
                                          f"the other {kept} are kept", cleared, kept) from exc
                cleared += 1
            return cleared

    def __len__(self) -> int:
        with self._lock:
            return self._index.count()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            looked_up = self.hits + self.misses
            try:
                size = self._index.count() if self.enabled else 0
            except sqlite3.Error:
                size = 0
            return {
                "enabled": self.enabled,
                "size": size,
                "max_size": self.max_size,
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": round(100.0 * self.hits / looked_up, 2) if looked_up else 0.0,
            }
