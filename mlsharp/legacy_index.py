"""Reading the JSON index of earlier versions (``index.json``), once, to migrate it into SQLite.

Kept apart from :mod:`mlsharp.cache` because it is only ever needed on the first start after an
upgrade. An unreadable file is moved aside, never deleted: the outputs it named are recovered from
the folder instead.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from mlsharp.cache_index import CacheEntry

LEGACY_NAME = "index.json"
LEGACY_VERSION = 1


@dataclass(frozen=True)
class Legacy:
    entries: list[CacheEntry] | None  # oldest first; None when the file was unreadable


def read_legacy_index(directory: Path, is_output_id) -> Legacy | None:
    """None when there is no legacy index; else its entries (or None if it was broken and set aside)."""
    path = directory / LEGACY_NAME
    if not path.exists() and not path.is_symlink():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("version") != LEGACY_VERSION:
            raise ValueError(f"index version {payload.get('version')!r}")
        entries = []
        for raw in payload["entries"]:
            entry = CacheEntry(key=str(raw["key"]), output_id=str(raw["output_id"]),
                               meta=dict(raw.get("meta") or {}), created=float(raw.get("created", 0.0)))
            if is_output_id(entry.output_id):
                entries.append(entry)
        return Legacy(entries)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        aside = path.with_name(f"{LEGACY_NAME}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        logger.warning("legacy cache index {} unreadable ({}); moved to {}, outputs recovered from the folder",
                       path, exc, aside.name)
        return Legacy(None)


def retire_legacy_index(directory: Path) -> None:
    """Once its entries are in the database."""
    (directory / LEGACY_NAME).unlink(missing_ok=True)
