"""The SQLite cache index never costs a result: a broken index is set aside and rebuilt from the
outputs and their sidecars, a legacy index.json is migrated, extra formats go with their entry,
and a hit survives a failed recency write."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from mlsharp.cache import ResultCache
from mlsharp.cache_recovery import INDEX_NAME, ORPHAN_KEY, PART_GRACE_S
from mlsharp.output_ids import new_output_id


def add(cache: ResultCache, key: str, payload: bytes = b"ply") -> str:
    output_id = new_output_id()
    cache.path_for(output_id).write_bytes(payload)
    cache.put(key, output_id, {"num_gaussians": len(payload), "backend": "preview"})
    return output_id


def filled(directory, n: int = 4) -> dict[str, str]:
    cache = ResultCache(directory, max_size=10)
    cache.load()
    ids = {f"k{i}": add(cache, f"k{i}", bytes([i]) * 10) for i in range(n)}
    cache.close()
    return ids


def break_by_garbage(path):
    path.write_bytes(b"this is not a database" * 100)


def break_by_truncation(path):
    path.write_bytes(path.read_bytes()[:100])


def break_by_directory(path):
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


def test_restart_drops_entries_whose_file_vanished_and_deletes_unindexed_files(tmp_path):
    first = ResultCache(tmp_path / "c", max_size=5)
    first.load()
    kept, lost = add(first, "kept"), add(first, "lost")
    first.path_for(lost).unlink()
    stray = new_output_id()
    first.path_for(stray).write_bytes(b"orphan")  # e.g. written by a request that then failed
    partial = first.directory / f".{new_output_id()}.ply.abcd.part"
    partial.write_bytes(b"half")
    stale = time.time() - PART_GRACE_S - 5  # a fresh .part may be another process's write in progress
    os.utime(partial, (stale, stale))
    fresh = first.directory / f".{new_output_id()}.ply.efgh.part"
    fresh.write_bytes(b"being written")
    unrelated = first.directory / "README.txt"
    unrelated.write_text("not ours")

    again = ResultCache(tmp_path / "c", max_size=5)
    assert again.load() == 1
    assert again.peek("kept").output_id == kept and again.peek("lost") is None
    assert not first.path_for(stray).exists() and not partial.exists()
    assert unrelated.exists() and fresh.exists()
    assert again.output_ids() == {kept}


@pytest.mark.parametrize("damage", [break_by_garbage, break_by_truncation, break_by_directory])
def test_a_broken_index_is_set_aside_and_every_result_kept(tmp_path, damage):
    directory = tmp_path / "c"
    ids = filled(directory)
    for extra in ("-wal", "-shm"):
        (directory / (INDEX_NAME + extra)).unlink(missing_ok=True)
    damage(directory / INDEX_NAME)
    cache = ResultCache(directory, max_size=10)
    assert cache.load() == len(ids)
    for key, output_id in ids.items():
        entry = cache.get(key)  # keys and metadata come back from the sidecars
        assert entry is not None and entry.output_id == output_id and entry.meta["backend"] == "preview"
        assert cache.path_for(output_id).is_file()
    assert list(directory.glob(f"{INDEX_NAME}.broken-*")), "the bad index is kept for inspection"
    add(cache, "new")  # and the rebuilt index works
    assert len(cache) == len(ids) + 1


def test_outputs_without_a_sidecar_stay_downloadable_when_the_index_is_lost(tmp_path):
    directory = tmp_path / "c"
    ids = filled(directory, 2)
    (directory / f"{ids['k0']}.json").unlink()
    (directory / f"{ids['k0']}.spz").write_bytes(b"spz")
    for name in (INDEX_NAME, INDEX_NAME + "-wal", INDEX_NAME + "-shm"):
        (directory / name).unlink(missing_ok=True)
    cache = ResultCache(directory, max_size=10)
    assert cache.load() == 2
    entry = cache.find_output(ids["k0"])
    assert entry is not None and entry.key == ORPHAN_KEY + ids["k0"]
    assert cache.get("k1").output_id == ids["k1"]
    cache.clear()
    assert not any(directory.glob(f"{ids['k0']}*")), "the recovered .spz went with its entry"


def legacy_index(directory, entries: list[dict]) -> None:
    (directory / "index.json").write_text(json.dumps({"version": 1, "entries": entries}))


def test_a_legacy_json_index_is_migrated(tmp_path):
    directory = tmp_path / "c"
    directory.mkdir()
    ids = [new_output_id() for _ in range(3)]
    for output_id in ids:
        (directory / f"{output_id}.ply").write_bytes(b"ply")
    stray = new_output_id()
    (directory / f"{stray}.ply").write_bytes(b"not indexed")  # the JSON index was the truth
    legacy_index(directory, [{"key": f"k{i}", "output_id": oid, "meta": {"n": i}, "created": 1.0 + i}
                             for i, oid in enumerate(ids)])
    cache = ResultCache(directory, max_size=2)  # smaller: the oldest migrated entry is evicted
    assert cache.load() == 2
    assert not (directory / "index.json").exists()
    assert cache.peek("k0") is None and not (directory / f"{ids[0]}.ply").exists()
    assert cache.get("k2").meta == {"n": 2} and (directory / f"{ids[2]}.json").is_file()
    assert not (directory / f"{stray}.ply").exists()


def test_an_unreadable_legacy_index_keeps_the_files(tmp_path):
    directory = tmp_path / "c"
    directory.mkdir()
    output_id = new_output_id()
    (directory / f"{output_id}.ply").write_bytes(b"ply")
    (directory / "index.json").write_text('{"version": 1, "entries": [')  # truncated
    cache = ResultCache(directory, max_size=5)
    assert cache.load() == 1
    assert cache.find_output(output_id) is not None
    assert list(directory.glob("index.json.broken-*"))


def test_an_extra_format_attached_after_eviction_is_not_left_behind(tmp_path):
    cache = ResultCache(tmp_path / "c", max_size=1)
    cache.load()
    first = add(cache, "a")
    staged = cache.directory / ".conversion.part"
    staged.write_bytes(b"spz")
    assert cache.attach(first, ".spz", staged) == cache.path_for(first, ".spz")
    late = cache.directory / ".late.part"
    late.write_bytes(b"spz")
    add(cache, "b")  # evicts "a" with its .spz
    assert not cache.path_for(first, ".spz").exists()
    assert cache.attach(first, ".spz", late) is None  # a conversion that finished too late
    assert not late.exists() and not cache.path_for(first, ".spz").exists()


def test_a_hit_survives_a_failed_recency_write(tmp_path, monkeypatch):
    cache = ResultCache(tmp_path / "c", max_size=3)
    cache.load()
    output_id = add(cache, "k")

    def full(_key):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(cache._index, "touch", full)
    entry = cache.get("k")
    assert entry is not None and entry.output_id == output_id
    assert cache.stats()["hits"] == 1


def test_two_processes_share_one_index(tmp_path):
    one, two = ResultCache(tmp_path / "c", max_size=3), ResultCache(tmp_path / "c", max_size=3)
    one.load()
    two.load()
    output_id = add(one, "k")
    assert two.get("k").output_id == output_id
    for key in ("x", "y", "z"):
        add(two, key)  # the bound holds across both writers
    assert one.peek("k") is None and len(one) == 3
    assert not one.path_for(output_id).exists()
