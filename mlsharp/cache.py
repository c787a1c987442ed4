"""Result cache: an LRU of finished outputs on disk, with an index that survives restarts.

Invariants, and how they are kept:

* The index never names a missing file. Outputs are complete before they are indexed (the
  worker writes them under a temporary name and renames). Eviction and clearing first rewrite
  the index, then delete the files, so a crash in between leaves only unindexed files, which the
  next :meth:`ResultCache.load` deletes. ``load`` also drops entries whose file has vanished, and
  :meth:`ResultCache.get` re-checks the file before answering.
* The index file itself is replaced atomically (temporary file + ``os.replace``).
* One ``threading.Lock`` guards everything, so the event loop and worker threads can share it.

The same class doubles as the bounded store of *uncached* outputs (``persist=False``): results
must stay downloadable for a while even with caching off, but not pile up forever.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

OUTPUT_ID_RE = re.compile(r"[0-9a-f]{32}")
INDEX_NAME = "index.json"
INDEX_VERSION = 1
OUTPUT_SUFFIXES = (".ply", ".spz")


def new_output_id() -> str:
    """Random, unguessable and safe in a file name (never derived from user input)."""
    return uuid.uuid4().hex


def is_output_id(value: str) -> bool:
    return OUTPUT_ID_RE.fullmatch(value) is not None


@dataclass(frozen=True)
class CacheEntry:
    key: str
    output_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0


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
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._by_output: dict[str, str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ files

    def path_for(self, output_id: str, suffix: str = ".ply") -> Path:
        if not is_output_id(output_id) or suffix not in OUTPUT_SUFFIXES:
            raise ValueError("invalid output id or suffix")
        return self.directory / f"{output_id}{suffix}"

    def _delete_files(self, output_id: str) -> None:
        for suffix in OUTPUT_SUFFIXES:
            try:
                (self.directory / f"{output_id}{suffix}").unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("could not delete cached file {}{}: {}", output_id, suffix, exc)

    def _write_index(self) -> None:
        if not self.persist:
            return
        payload = {
            "version": INDEX_VERSION,
            "entries": [asdict(entry) for entry in self._entries.values()],
        }
        target = self.directory / INDEX_NAME
        tmp = target.with_name(f".{INDEX_NAME}.{uuid.uuid4().hex}.part")
        try:
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()

    # ------------------------------------------------------------------ lifecycle

    def load(self) -> int:
        """Read the index (if persisted), drop dangling entries, delete unindexed files."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._entries.clear()
            self._by_output.clear()
            if self.persist:
                for entry in self._read_index():
                    if self.path_for(entry.output_id).is_file():
                        self._entries[entry.key] = entry
                        self._by_output[entry.output_id] = entry.key
                while len(self._entries) > self.max_size:
                    _, old = self._entries.popitem(last=False)
                    self._by_output.pop(old.output_id, None)
            removed = self._remove_strays()
            self._write_index()
            count = len(self._entries)
        if removed:
            logger.info("cache: removed {} file(s) not in the index", removed)
        return count

    def _read_index(self) -> list[CacheEntry]:
        path = self.directory / INDEX_NAME
        if not path.is_file():
            return []
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("version") != INDEX_VERSION:
                raise ValueError(f"index version {payload.get('version')!r}")
            entries = []
            for raw in payload["entries"]:
                entry = CacheEntry(
                    key=str(raw["key"]), output_id=str(raw["output_id"]),
                    meta=dict(raw.get("meta") or {}), created=float(raw.get("created", 0.0)),
                )
                if is_output_id(entry.output_id):
                    entries.append(entry)
            return entries
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("cache index {} unreadable ({}); starting empty", path, exc)
            return []

    def _remove_strays(self) -> int:
        removed = 0
        for path in self.directory.iterdir():
            if not path.is_file() or path.name == INDEX_NAME:
                continue
            stem, suffix = path.stem, path.suffix
            indexed = suffix in OUTPUT_SUFFIXES and stem in self._by_output
            ours = (suffix in OUTPUT_SUFFIXES and is_output_id(stem)) or path.name.endswith(".part")
            if ours and not indexed:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # ------------------------------------------------------------------ lookups

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` (marking it most recently used), counting a hit or a miss."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not self.path_for(entry.output_id).is_file():
                self._drop(key)  # deleted behind our back: forget it, never serve it
                self._write_index()
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            self._write_index()
            return entry

    def peek(self, key: str) -> CacheEntry | None:
        """Like :meth:`get` but counts nothing and keeps the LRU order."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self.path_for(entry.output_id).is_file():
                return entry
            return None

    def find_output(self, output_id: str) -> CacheEntry | None:
        with self._lock:
            key = self._by_output.get(output_id)
            return self._entries.get(key) if key is not None else None

    # ------------------------------------------------------------------ updates

    def put(self, key: str, output_id: str, meta: dict[str, Any]) -> CacheEntry:
        """Index a finished output; returns the entry now stored for ``key``.

        If another request stored ``key`` first, that entry wins and the caller's files are
        deleted (the caller should answer with the returned entry's id).
        """
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None and self.path_for(existing.output_id).is_file():
                self._entries.move_to_end(key)
                if existing.output_id != output_id:
                    self._delete_files(output_id)
                return existing
            if existing is not None:
                self._drop(key)
            entry = CacheEntry(key=key, output_id=output_id, meta=dict(meta), created=time.time())
            self._entries[key] = entry
            self._by_output[output_id] = key
            evicted = []
            while len(self._entries) > self.max_size:
                _, old = self._entries.popitem(last=False)
                self._by_output.pop(old.output_id, None)
                evicted.append(old)
            self._write_index()
            for old in evicted:
                self._delete_files(old.output_id)
            return entry

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._by_output.pop(entry.output_id, None)

    def clear(self) -> int:
        """Forget and delete every entry; returns how many there were. Counters are kept."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            self._by_output.clear()
            self._write_index()
            for entry in entries:
                self._delete_files(entry.output_id)
            return len(entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            looked_up = self.hits + self.misses
            return {
                "enabled": self.enabled,
                "size": len(self._entries) if self.enabled else 0,
                "max_size": self.max_size,
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": round(100.0 * self.hits / looked_up, 2) if looked_up else 0.0,
            }
