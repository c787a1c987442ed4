"""The result cache's index: one SQLite database (standard library, WAL journal) beside the outputs.

Why SQLite rather than a JSON file: a hit is one indexed lookup plus a one-row update instead of a
rewrite of the whole index (0.9 s per hit at 30,000 entries with JSON), writers in several
processes are serialised by SQLite's own locking, and a crash mid-write cannot truncate it.

Recency is a counter (``used``), not a clock: the next value is ``MAX(used) + 1`` read through the
column's index, so it is monotonic across processes and immune to clock changes.

Nothing here deletes files; :mod:`mlsharp.cache` decides what the rows mean for the outputs.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlsharp.diskerrors import kind_of

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    output_id TEXT NOT NULL UNIQUE,
    meta TEXT NOT NULL,
    created REAL NOT NULL,
    used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_used ON entries(used);
CREATE TABLE IF NOT EXISTS formats (
    output_id TEXT NOT NULL,
    suffix TEXT NOT NULL,
    PRIMARY KEY (output_id, suffix)
);
"""


class IndexBroken(Exception):
    """The database cannot be used as an index (unreadable, corrupt, foreign schema, a directory)."""


@dataclass(frozen=True)
class CacheEntry:
    key: str
    output_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0


def _entry(row: tuple) -> CacheEntry:
    key, output_id, meta, created = row
    return CacheEntry(key=key, output_id=output_id, meta=json.loads(meta), created=created)


class SqliteIndex:
    """Thin typed wrapper; the caller serialises access within a process (one connection)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        memory = self.path == ":memory:"
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not memory:
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version not in (0, SCHEMA_VERSION) or (version == 0 and tables):
                raise IndexBroken(f"unknown index schema (version {version}, tables {sorted(tables)})")
            if self.db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise IndexBroken("the database failed its integrity check")
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self.close()
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or kind_of(exc)):
                raise  # busy elsewhere, or disk trouble: the database itself may be fine
            raise IndexBroken(str(exc)) from exc
        except IndexBroken:
            self.close()
            raise

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
            self.db = None

    # ------------------------------------------------------------------ reads

    def get(self, key: str) -> CacheEntry | None:
        row = self.db.execute("SELECT key, output_id, meta, created FROM entries WHERE key = ?",
                              (key,)).fetchone()
        return _entry(row) if row else None

    def by_output(self, output_id: str) -> CacheEntry | None:
        row = self.db.execute("SELECT key, output_id, meta, created FROM entries WHERE output_id = ?",
                              (output_id,)).fetchone()
        return _entry(row) if row else None

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def oldest(self, limit: int) -> list[CacheEntry]:
        rows = self.db.execute("SELECT key, output_id, meta, created FROM entries ORDER BY used LIMIT ?",
                               (limit,)).fetchall()
        return [_entry(r) for r in rows]

    def all(self) -> Iterator[CacheEntry]:
        for row in self.db.execute("SELECT key, output_id, meta, created FROM entries ORDER BY used").fetchall():
            yield _entry(row)

    def formats(self, output_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT suffix FROM formats WHERE output_id = ?", (output_id,))]

    # ------------------------------------------------------------------ writes

    def begin(self) -> None:
        """A write transaction that takes the lock now (so a read-then-write cannot interleave)."""
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db is not None and self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def insert(self, entry: CacheEntry) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO entries (key, output_id, meta, created, used) "
            "VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(used), 0) + 1 FROM entries))",
            (entry.key, entry.output_id, json.dumps(entry.meta), entry.created or time.time()),
        )

    def insert_many(self, entries: Iterable[CacheEntry]) -> None:
        """Oldest first: each gets the next recency value."""
        for entry in entries:
            self.insert(entry)

    def touch(self, key: str) -> None:
        self.db.execute("UPDATE entries SET used = (SELECT MAX(used) + 1 FROM entries) WHERE key = ?", (key,))

    def delete(self, output_id: str) -> None:
        self.db.execute("DELETE FROM entries WHERE output_id = ?", (output_id,))
        self.db.execute("DELETE FROM formats WHERE output_id = ?", (output_id,))

    def add_format(self, output_id: str, suffix: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO formats (output_id, suffix) VALUES (?, ?)", (output_id, suffix))
