"""The result-cache index in Redis: what :class:`mlsharp.cache.ResultCache` is for one server,
shared by every API server and worker of a cluster (the files themselves live in the store).

Layout under ``<ns>:cache:<name>:`` -- ``entry:<key>`` (JSON entry), ``out:<output id>`` (its key),
``lru`` (sorted set key -> last use), ``alias:<upload key>`` (bytes -> pixel key, a hint that
expires), ``stats`` (hits, misses). Writes are first-writer-wins (``SET NX``): when two workers
finish the same photo, the later one's files are deleted and its caller answered with the
earlier id. A job that runs twice writes its own entry again -- same id, nothing deleted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from loguru import logger

from mlsharp.cache_index import CacheEntry
from mlsharp.output_ids import output_suffixes
from mlsharp.storage import Store

ALIAS_TTL_S = 7 * 86_400


class RedisResultIndex:
    def __init__(self, client: Any, name: str, store: Store, max_size: int, enabled: bool = True,
                 namespace: str = "mlsharp") -> None:
        self.client, self.store, self.max_size, self.enabled = client, store, max_size, enabled
        self.prefix = f"{namespace}:cache:{name}:"
        local = store.local_path("x")
        self.directory = local.parent if local is not None else None  # for disk-trouble messages

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # ------------------------------------------------------------------ files

    def path_for(self, output_id: str, suffix: str = ".ply") -> Path | None:
        """The file on this machine (directory stores); ``None`` for remote stores."""
        return self.store.local_path(f"{output_id}{suffix}")

    def object_name(self, output_id: str, suffix: str = ".ply") -> str:
        return f"{output_id}{suffix}"

    def _delete_files(self, output_id: str) -> None:
        for suffix in output_suffixes():
            try:
                self.store.delete(self.object_name(output_id, suffix))
            except Exception as exc:  # noqa: BLE001 - a leftover file is only wasted space
                logger.warning("could not delete {}{}: {}", output_id, suffix, exc)

    # ------------------------------------------------------------------ entries

    @staticmethod
    def _decode(raw: bytes | None) -> CacheEntry | None:
        if raw is None:
            return None
        data = json.loads(raw)
        return CacheEntry(key=data["key"], output_id=data["output_id"], meta=data.get("meta") or {},
                          created=float(data.get("created", 0.0)))

    def load(self) -> int:
        return int(self.client.zcard(self._k("lru")))

    def close(self) -> None:
        pass

    def peek(self, key: str) -> CacheEntry | None:
        return self._decode(self.client.get(self._k("entry", key)))

    def get(self, key: str) -> CacheEntry | None:
        if not self.enabled:
            return None
        entry = self.peek(key)
        if entry is not None and not self.store.exists(self.object_name(entry.output_id)):
            self._drop(entry)  # deleted behind our back: never serve it
            entry = None
        self.client.hincrby(self._k("stats"), "hits" if entry is not None else "misses", 1)
        if entry is not None:
            self.client.zadd(self._k("lru"), {key: time.time()})
        return entry

    def find_output(self, output_id: str) -> CacheEntry | None:
        key = self.client.get(self._k("out", output_id))
        return self.peek(key.decode()) if key is not None else None

    def output_ids(self) -> set[str]:
        return {key.decode().rsplit(":", 1)[-1] for key in self.client.scan_iter(self._k("out", "*"))}

    def put(self, key: str, output_id: str, meta: dict[str, Any]) -> CacheEntry:
        entry = CacheEntry(key=key, output_id=output_id, meta=dict(meta), created=time.time())
        payload = json.dumps({"key": key, "output_id": output_id, "meta": entry.meta, "created": entry.created})
        if not self.client.set(self._k("entry", key), payload, nx=True):
            existing = self.peek(key)
            if existing is not None and existing.output_id != output_id \
                    and self.store.exists(self.object_name(existing.output_id)):
                self.client.zadd(self._k("lru"), {key: time.time()})
                self._delete_files(output_id)
                return existing
            self.client.set(self._k("entry", key), payload)  # ours again (a re-run), or a dangling one
        pipe = self.client.pipeline()
        pipe.set(self._k("out", output_id), key)
        pipe.zadd(self._k("lru"), {key: time.time()})
        pipe.execute()
        self._evict()
        return entry

    def _evict(self) -> None:
        excess = int(self.client.zcard(self._k("lru"))) - self.max_size
        if excess <= 0:
            return
        for raw_key, _ in self.client.zpopmin(self._k("lru"), excess):
            entry = self.peek(raw_key.decode())
            if entry is not None:
                self._drop(entry)
                self._delete_files(entry.output_id)

    def _drop(self, entry: CacheEntry) -> None:
        pipe = self.client.pipeline()
        pipe.delete(self._k("entry", entry.key), self._k("out", entry.output_id))
        pipe.zrem(self._k("lru"), entry.key)
        pipe.execute()

    def attach(self, output_id: str, suffix: str, staged: Path) -> Path | None:
        """Publish ``staged`` as ``output_id``'s ``suffix`` file; ``None`` when the entry is gone."""
        if self.find_output(output_id) is None:
            staged.unlink(missing_ok=True)
            return None
        self.store.put_file(self.object_name(output_id, suffix), staged)
        return self.path_for(output_id, suffix) or Path(self.object_name(output_id, suffix))

    def clear(self) -> int:
        cleared = 0
        for raw_key in self.client.zrange(self._k("lru"), 0, -1):
            entry = self.peek(raw_key.decode())
            if entry is not None:
                self._delete_files(entry.output_id)
                self._drop(entry)
                cleared += 1
        self.client.delete(self._k("lru"))
        return cleared

    # ------------------------------------------------------------------ upload aliases

    def remember_alias(self, alias: str, key: str) -> None:
        self.client.set(self._k("alias", alias), key, ex=ALIAS_TTL_S)

    def lookup_alias(self, alias: str) -> CacheEntry | None:
        key = self.client.get(self._k("alias", alias))
        if key is None or self.peek(key.decode()) is None:
            return None
        return self.get(key.decode())

    def stats(self) -> dict[str, Any]:
        counts = {k.decode(): int(v) for k, v in self.client.hgetall(self._k("stats")).items()}
        hits, misses = counts.get("hits", 0), counts.get("misses", 0)
        looked_up = hits + misses
        return {
            "enabled": self.enabled,
            "size": self.load() if self.enabled else 0,
            "max_size": self.max_size,
            "hits": hits,
            "misses": misses,
            "hit_rate": round(100.0 * hits / looked_up, 2) if looked_up else 0.0,
        }
