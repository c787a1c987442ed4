"""Result cache: LRU order, eviction deletes files, stats, clear, and an index that survives restarts
(the SQLite index's recovery and migration are in test_cache_recovery.py)."""

from __future__ import annotations

import threading

import pytest

from mlsharp.cache import ResultCache
from mlsharp.cache_recovery import INDEX_NAME
from mlsharp.output_ids import new_output_id


def add(cache: ResultCache, key: str, payload: bytes = b"ply") -> str:
    """What the service does: the output file exists first, then it is indexed."""
    output_id = new_output_id()
    cache.path_for(output_id).write_bytes(payload)
    cache.put(key, output_id, {"num_gaussians": len(payload)})
    return output_id


@pytest.fixture
def cache(tmp_path) -> ResultCache:
    c = ResultCache(tmp_path / "cache", max_size=3)
    c.load()
    return c


def test_path_for_refuses_anything_but_an_id(cache):
    with pytest.raises(ValueError):
        cache.path_for("../../etc/passwd")
    with pytest.raises(ValueError):
        cache.path_for(new_output_id(), ".exe")


def test_hit_miss_and_stats(cache):
    assert cache.get("k1") is None
    oid = add(cache, "k1")
    entry = cache.get("k1")
    assert entry is not None and entry.output_id == oid and entry.meta == {"num_gaussians": 3}
    assert cache.stats() == {"enabled": True, "size": 1, "max_size": 3, "hits": 1, "misses": 1,
                             "hit_rate": 50.0}


def test_lru_eviction_deletes_the_least_recently_used_files(cache):
    ids = {key: add(cache, key) for key in ("a", "b", "c")}
    assert cache.get("a") is not None  # "a" becomes the most recent; "b" is now the oldest
    cache.path_for(ids["b"], ".spz").write_bytes(b"spz")  # a converted sibling goes too
    add(cache, "d")
    assert len(cache) == 3
    assert cache.peek("b") is None
    assert not cache.path_for(ids["b"]).exists() and not cache.path_for(ids["b"], ".spz").exists()
    for key in ("a", "c", "d"):
        assert cache.peek(key) is not None
        assert cache.path_for(cache.peek(key).output_id).is_file()


def test_clear_deletes_every_file_and_keeps_counters(cache):
    ids = [add(cache, key) for key in ("a", "b")]
    cache.get("a")
    assert cache.clear() == 2
    assert len(cache) == 0
    assert all(not cache.path_for(i).exists() for i in ids)
    assert cache.stats()["hits"] == 1 and cache.stats()["size"] == 0


def test_first_writer_wins_for_the_same_key(cache):
    first = add(cache, "same")
    second_id = new_output_id()
    cache.path_for(second_id).write_bytes(b"dup")
    stored = cache.put("same", second_id, {})
    assert stored.output_id == first
    assert not cache.path_for(second_id).exists()  # the loser's file does not linger


def test_index_survives_a_restart_in_lru_order(tmp_path):
    first = ResultCache(tmp_path / "c", max_size=2)
    first.load()
    ids = {key: add(first, key) for key in ("a", "b")}
    first.get("a")  # order is now b, a
    again = ResultCache(tmp_path / "c", max_size=2)
    assert again.load() == 2
    assert again.get("a").output_id == ids["a"] and again.find_output(ids["b"]).key == "b"
    add(again, "c")  # evicts the least recently used
    assert again.peek("b") is None and again.peek("a") is not None


def test_get_never_returns_an_entry_whose_file_is_gone(cache):
    oid = add(cache, "k")
    cache.path_for(oid).unlink()
    assert cache.get("k") is None
    assert cache.find_output(oid) is None


def test_restart_with_a_smaller_size_trims_the_oldest(tmp_path):
    big = ResultCache(tmp_path / "c", max_size=4)
    big.load()
    ids = [add(big, key) for key in ("a", "b", "c", "d")]
    small = ResultCache(tmp_path / "c", max_size=2)
    assert small.load() == 2
    assert small.peek("c") is not None and small.peek("d") is not None
    assert not small.path_for(ids[0]).exists() and not small.path_for(ids[1]).exists()


def test_disabled_cache_never_answers(tmp_path):
    cache = ResultCache(tmp_path / "c", max_size=2, enabled=False)
    cache.load()
    add(cache, "k")
    assert cache.get("k") is None
    assert cache.stats()["enabled"] is False and cache.stats()["hits"] == 0


def test_non_persistent_store_writes_no_index(tmp_path):
    store = ResultCache(tmp_path / "u", max_size=1, persist=False)
    store.load()
    first = add(store, "x")
    add(store, "y")
    assert not (tmp_path / "u" / INDEX_NAME).exists()
    assert not store.path_for(first).exists()  # still bounded


def test_concurrent_puts_keep_the_bound_and_the_files_consistent(tmp_path):
    cache = ResultCache(tmp_path / "c", max_size=5)
    cache.load()

    def worker(n: int) -> None:
        for i in range(20):
            add(cache, f"{n}-{i}")
            cache.get(f"{n}-{i // 2}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 5
    files = sorted(p.stem for p in cache.directory.glob("*.ply"))
    assert files == sorted(cache.output_ids())
    assert sorted(p.stem for p in cache.directory.glob("*.json")) == files  # one sidecar each, no more
