"""The cache's folder: where each output's files are, its sidecar, and deleting all of an output.

Every cached output ``<id>.ply`` may have extra formats (``<id>.spz``, ``<id>.n200000.spz`` ...)
and a sidecar ``<id>.json`` with its key, meta and creation time, written atomically before its
index row, so a lost index can be rebuilt from the folder (:mod:`mlsharp.cache_recovery`). The
uncached-outputs store (``persist=False``) writes no sidecars.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from loguru import logger

from mlsharp.cache_index import CacheEntry
from mlsharp.output_ids import SIDECAR, is_output_id, is_output_suffix, output_suffixes


class CacheFiles:
    def __init__(self, directory: Path, persist: bool) -> None:
        self.directory = directory
        self.persist = persist

    def path_for(self, output_id: str, suffix: str = ".ply") -> Path:
        if not is_output_id(output_id) or not is_output_suffix(suffix):
            raise ValueError("invalid output id or suffix")
        return self.directory / f"{output_id}{suffix}"

    def sidecar(self, output_id: str) -> Path:
        return self.directory / f"{output_id}{SIDECAR}"

    def write_sidecar(self, entry: CacheEntry) -> None:
        if not self.persist:
            return
        target = self.sidecar(entry.output_id)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        payload = {"key": entry.key, "meta": entry.meta, "created": entry.created}
        try:
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def read_sidecar(self, output_id: str) -> CacheEntry | None:
        try:
            raw = json.loads(self.sidecar(output_id).read_text(encoding="utf-8"))
            return CacheEntry(key=str(raw["key"]), output_id=output_id, meta=dict(raw["meta"]),
                              created=float(raw["created"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def delete(self, output_id: str, extra: list[str] = (), strict: bool = False) -> None:
        """Every format of ``output_id``, then its sidecar. ``strict``: raise on the first failure
        (so the caller keeps the entry); otherwise log and go on."""
        suffixes = dict.fromkeys([*output_suffixes(), *extra, SIDECAR])
        for suffix in suffixes:
            try:
                (self.directory / f"{output_id}{suffix}").unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                if strict:
                    raise
                logger.warning("could not delete cached file {}{}: {}", output_id, suffix, exc)
