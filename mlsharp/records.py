"""Small JSON records beside the job engine: who owns a job, its batch, its webhook deliveries.

The engines keep a job's *work* state; what the API layer adds on top (the caller that created
it, the batch it belongs to, webhook attempts, which callers may download an output) lives here,
so it works the same on both engines: :class:`MemoryRecords` for the local engine (one process,
bounded), :class:`RedisRecords` for the distributed one, where any API server behind a load
balancer must see the same owner. Records expire after ``ttl_s`` like the jobs they describe.

Records are small dicts of JSON values. Sets (a caller's unfinished jobs) are kept as real Redis
sets so counting them across servers is one round trip and never races.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

Record = dict[str, Any]


class Records(Protocol):
    """The small state the API layer keeps beside an engine (owners, batches, webhook attempts),
    with one memory and one Redis implementation so both engines behave alike."""

    def get(self, kind: str, key: str) -> Record | None: ...

    def put(self, kind: str, key: str, record: Record) -> None: ...

    def update(self, kind: str, key: str, change: Callable[[Record], None]) -> Record | None:
        """Apply ``change`` to the stored record in place and store it; ``None`` when absent."""

    def add_member(self, kind: str, key: str, member: str) -> int:
        """Add ``member`` to a set; the set's size afterwards."""

    def remove_member(self, kind: str, key: str, member: str) -> None: ...

    def has_member(self, kind: str, key: str, member: str) -> bool: ...

    def count_members(self, kind: str, key: str) -> int: ...


class MemoryRecords:
    """In-process records, bounded to ``max_records`` (oldest forgotten first) and expiring."""

    def __init__(self, ttl_s: float = 86_400.0, max_records: int = 100_000) -> None:
        self.ttl_s, self.max_records = ttl_s, max_records
        self._data: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _live(self, kind: str, key: str) -> Any:
        item = self._data.get((kind, key))
        if item is None:
            return None
        if item[0] < time.monotonic():
            del self._data[(kind, key)]
            return None
        return item[1]

    def _store(self, kind: str, key: str, value: Any) -> None:
        self._data[(kind, key)] = (time.monotonic() + self.ttl_s, value)
        self._data.move_to_end((kind, key))
        while len(self._data) > self.max_records:
            self._data.popitem(last=False)

    def get(self, kind: str, key: str) -> Record | None:
        with self._lock:
            value = self._live(kind, key)
            return json.loads(value) if value is not None else None

    def put(self, kind: str, key: str, record: Record) -> None:
        with self._lock:
            self._store(kind, key, json.dumps(record))

    def update(self, kind: str, key: str, change: Callable[[Record], None]) -> Record | None:
        with self._lock:
            value = self._live(kind, key)
            if value is None:
                return None
            record = json.loads(value)
            change(record)
            self._store(kind, key, json.dumps(record))
            return record

    def add_member(self, kind: str, key: str, member: str) -> int:
        with self._lock:
            members = self._live(kind, key) or set()
            members.add(member)
            self._store(kind, key, members)
            return len(members)

    def remove_member(self, kind: str, key: str, member: str) -> None:
        with self._lock:
            members = self._live(kind, key)
            if members is not None:
                members.discard(member)

    def has_member(self, kind: str, key: str, member: str) -> bool:
        with self._lock:
            return member in (self._live(kind, key) or ())

    def count_members(self, kind: str, key: str) -> int:
        with self._lock:
            return len(self._live(kind, key) or ())


class RedisRecords:
    """The same records in Redis (``redis.Redis`` client given), shared by every API server.

    Redis being away is answered like the engine answers it -- 503, retry later -- not as a 500:
    every public method is wrapped with the engine's own guard when the class is first used.
    """

    _guarded = False

    def __init__(self, client: Any, prefix: str = "mlsharp:rec", ttl_s: float = 86_400.0) -> None:
        if not RedisRecords._guarded:
            from mlsharp.engines.dramatiq_api import _unreachable_is_503

            for name in ("get", "put", "update", "add_member", "remove_member", "has_member", "count_members"):
                setattr(RedisRecords, name, _unreachable_is_503(getattr(RedisRecords, name)))
            RedisRecords._guarded = True
        self.client, self.prefix, self.ttl = client, prefix, max(1, int(ttl_s))

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}:{kind}:{key}"

    def get(self, kind: str, key: str) -> Record | None:
        raw = self.client.get(self._key(kind, key))
        return json.loads(raw) if raw is not None else None

    def put(self, kind: str, key: str, record: Record) -> None:
        self.client.set(self._key(kind, key), json.dumps(record), ex=self.ttl)

    def update(self, kind: str, key: str, change: Callable[[Record], None]) -> Record | None:
        """Optimistic: WATCH the key, retry when another server wrote it in between."""
        import redis

        name = self._key(kind, key)
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)
                    raw = pipe.get(name)
                    if raw is None:
                        pipe.reset()
                        return None
                    record = json.loads(raw)
                    change(record)
                    pipe.multi()
                    pipe.set(name, json.dumps(record), ex=self.ttl)
                    pipe.execute()
                    return record
                except redis.WatchError:
                    continue

    def add_member(self, kind: str, key: str, member: str) -> int:
        name = self._key(kind, key)
        with self.client.pipeline() as pipe:
            pipe.sadd(name, member)
            pipe.expire(name, self.ttl)
            pipe.scard(name)
            return int(pipe.execute()[-1])

    def remove_member(self, kind: str, key: str, member: str) -> None:
        self.client.srem(self._key(kind, key), member)

    def has_member(self, kind: str, key: str, member: str) -> bool:
        return bool(self.client.sismember(self._key(kind, key), member))

    def count_members(self, kind: str, key: str) -> int:
        return int(self.client.scard(self._key(kind, key)))
