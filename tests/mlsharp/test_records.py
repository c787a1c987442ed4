"""The records kept beside the job engine (``mlsharp.records``): get/put/update, sets, expiry, bounds."""

from __future__ import annotations

import time

import pytest

from mlsharp.records import MemoryRecords


def exercise(records) -> None:
    assert records.get("job", "a") is None and records.update("job", "a", lambda r: None) is None
    records.put("job", "a", {"caller": "alice", "attempts": []})
    updated = records.update("job", "a", lambda r: r["attempts"].append({"n": 1}))
    assert updated == records.get("job", "a") == {"caller": "alice", "attempts": [{"n": 1}]}
    assert records.add_member("pending", "alice", "j1") == 1
    assert records.add_member("pending", "alice", "j2") == 2
    assert records.add_member("pending", "alice", "j2") == 2
    records.remove_member("pending", "alice", "j1")
    records.remove_member("pending", "nobody", "j1")
    assert records.count_members("pending", "alice") == 1 and records.count_members("pending", "bob") == 0
    assert records.has_member("pending", "alice", "j2") and not records.has_member("pending", "alice", "j1")


def test_memory_records():
    exercise(MemoryRecords())


def test_memory_records_expire_and_stay_bounded():
    records = MemoryRecords(ttl_s=0.05, max_records=2)
    records.put("job", "a", {})
    records.put("job", "b", {})
    records.put("job", "c", {})
    assert records.get("job", "a") is None and records.get("job", "c") == {}
    deadline = time.monotonic() + 5
    while records.get("job", "c") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert records.get("job", "c") is None


def test_redis_records_share_the_same_behaviour(redis_client):
    from mlsharp.records import RedisRecords

    exercise(RedisRecords(redis_client, prefix="test:rec"))


def test_redis_away_is_a_503_not_a_500():
    import redis

    from mlsharp.errors import ServiceError
    from ext_servers import free_port
    from mlsharp.records import RedisRecords

    records = RedisRecords(redis.Redis(port=free_port(), socket_connect_timeout=1))
    with pytest.raises(ServiceError) as info:
        records.get("job", "x")
    assert info.value.status_code == 503 and "unreachable" in info.value.detail
