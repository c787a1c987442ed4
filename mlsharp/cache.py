"""Result cache: an LRU of finished outputs on disk, indexed in SQLite (:mod:`mlsharp.cache_index`).

Invariants, and how they are kept (the folder's layout is :mod:`mlsharp.cache_files`, making the
index agree with it at start :mod:`mlsharp.cache_recovery`, ids and suffixes :mod:`mlsharp.output_ids`):

* Results are never deleted because the index is broken: every cached output carries a sidecar
  written before its row, and a broken index is rebuilt from the folder
  (:mod:`mlsharp.cache_recovery` says how).
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

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from loguru import logger

from mlsharp.cache_files import CacheFiles
from mlsharp.cache_index import CacheEntry, SqliteIndex
from mlsharp.cache_recovery import import_legacy, open_index, reconcile
from mlsharp.diskerrors import DiskTrouble, disk_problem
from mlsharp.legacy_index import read_legacy_index
from mlsharp.output_ids import is_output_id, split_name

__all__ = ["CacheEntry", "ClearIncomplete", "ResultCache"]


class ClearIncomplete(DiskTrouble):
    """Clearing stopped at files it could not delete; those entries are still indexed."""

    def __init__(self, detail: str, cleared: int, kept: int) -> None:
        super().__init__(detail)
        self.cleared, self.kept = cleared, kept


class ResultCache:
    """Finished outputs by cache key, bounded (LRU) and safe to share between processes; never the
    reason a result is lost or a missing file is served."""

    def __init__(self, directory: str | Path, max_size: int, enabled: bool = True, persist: bool = True) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.directory = Path(directory)
        self.max_size = max_size
        self.enabled = enabled
        self.persist = persist
        self.files = CacheFiles(self.directory, persist)
        self.hits = 0
        self.misses = 0
        self._index = SqliteIndex(":memory:")
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ files

    def path_for(self, output_id: str, suffix: str = ".ply") -> Path:
        return self.files.path_for(output_id, suffix)

    # ------------------------------------------------------------------ lifecycle

    def load(self) -> int:
        """Open (or rebuild) the index and make it agree with the files; returns the entry count."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._index.close()
            if not self.persist:
                self._index = SqliteIndex(":memory:")
                for path in self.directory.iterdir():
                    if path.is_file() and (split_name(path.name) or path.name.endswith(".part")):
                        path.unlink(missing_ok=True)
                return 0
            self._index, trusted = open_index(self.directory)
            legacy = read_legacy_index(self.directory, is_output_id)
            if legacy is not None and legacy.entries is not None:
                import_legacy(self.files, self._index, legacy.entries)
                trusted = True  # it named every output that was still wanted
            elif legacy is not None:
                trusted = False
            reconcile(self.files, self._index, trusted)
            self._trim()
            return self._index.count()

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
            self.files.delete(entry.output_id, formats.get(entry.output_id, []))

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
        self.files.write_sidecar(entry)
        evicted: list[CacheEntry] = []
        self._index.begin()
        try:
            existing = self._index.get(entry.key)
            if existing is not None and existing.output_id != entry.output_id \
                    and self.path_for(existing.output_id).is_file():
                self._index.touch(entry.key)
                self._index.commit()
                self.files.delete(entry.output_id)
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
                self.files.sidecar(entry.output_id).unlink(missing_ok=True)
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
                    self.files.delete(entry.output_id, self._index.formats(entry.output_id), strict=True)
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
