"""Disk trouble (full, read-only) told as what it is, wherever it happens: in the server writing the
index or a sidecar, in a worker writing a ``.ply`` (its ``OSError`` comes back pickled, errno
intact), or in SQLite (which reports its own codes, not an errno).

Why a module of its own: the same words must reach the HTTP answer (507), the start-up check
(one-line ``error:``, exit 2) and the logs, and each of those only has the exception in hand.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import uuid
from pathlib import Path

FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
READ_ONLY_ERRNOS = frozenset({errno.EROFS})
_SQLITE_FULL, _SQLITE_READONLY = 13, 8
PROBE_BYTES = 64 * 1024


class DiskTrouble(Exception):
    """A write failed because the folder's disk is full or read-only; ``detail`` says so in one line."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def kind_of(exc: BaseException) -> str | None:
    """``"full"``, ``"read-only"`` or ``None`` (not disk trouble) for an exception from any layer."""
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        text = str(exc).lower()
        if code == _SQLITE_FULL or "disk is full" in text:
            return "full"
        if code == _SQLITE_READONLY or "readonly" in text:
            return "read-only"
        return None
    if isinstance(exc, OSError):
        if exc.errno in FULL_ERRNOS:
            return "full"
        if exc.errno in READ_ONLY_ERRNOS:
            return "read-only"
    return None


def describe(kind: str, folder: str | Path) -> str:
    if kind == "full":
        return f"the output folder {folder} is full (no space left on its disk); free some space or move cache.dir"
    return f"the output folder {folder} is read-only; make it writable or move cache.dir"


def disk_problem(exc: BaseException, folder: str | Path) -> str | None:
    """The one-line reason when ``exc`` is disk trouble in ``folder``, else ``None``."""
    kind = kind_of(exc)
    return describe(kind, folder) if kind else None


def probe_writable(folder: str | Path) -> str | None:
    """Write, flush and delete a small file in ``folder`` (created if missing): the reason it
    cannot be used for outputs, or ``None``. Checked at start, before any worker is spawned."""
    folder = Path(folder)
    probe = folder / f".write-probe-{uuid.uuid4().hex}.part"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as fh:
            fh.write(b"\0" * PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return disk_problem(exc, folder) or f"cannot write to the output folder {folder} ({exc.strerror or exc})"
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    return None
