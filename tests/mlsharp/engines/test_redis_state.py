"""Job state and the result index in a real Redis: forward-only stages, finish-once, first writer wins."""

from __future__ import annotations

import pytest

from mlsharp.engines.redis_cache import RedisResultIndex
from mlsharp.engines.redis_jobs import RedisJobs
from mlsharp.storage.directory import DirectoryStore


@pytest.fixture
def jobs(redis_client):
    return RedisJobs(redis_client, ttl_s=60)


def test_stages_only_move_forward_and_a_job_finishes_once(jobs):
    jobs.create("a" * 32, {"job_id": "a" * 32})
    assert jobs.depth() == 1 and jobs.by_state() == {"queued": 1, "running": 0}
    jobs.advance("a" * 32, "inference")
    jobs.advance("a" * 32, "loading")  # a re-run's early stage does not move it back
    assert jobs.snapshot("a" * 32)["stage"] == "inference"
    assert jobs.succeed("a" * 32, {"id": "a" * 32}) is True
    assert jobs.succeed("a" * 32, {"id": "other"}) is False  # a second run changes nothing
    assert jobs.fail("a" * 32, 500, "late") is False
    snapshot = jobs.snapshot("a" * 32)
    assert (snapshot["state"], snapshot["result"], snapshot["error"]) == ("done", {"id": "a" * 32}, None)
    assert jobs.depth() == 0
    jobs.advance("a" * 32, "saving")
    assert jobs.snapshot("a" * 32)["stage"] == "done"


def test_restarts_and_dead_letters_are_counted(jobs):
    jobs.create("b" * 32, {})
    assert jobs.begin("b" * 32, "w1") == 1 and jobs.begin("b" * 32, "w2") == 2
    assert jobs.fail("b" * 32, 500, "gave up", dead=True)
    assert jobs.counters() == {"requeued": 1, "dead_lettered": 1}
    assert jobs.snapshot("b" * 32)["error"] == {"status_code": 500, "detail": "gave up"}


def test_live_workers_are_those_with_a_recent_heartbeat(jobs):
    jobs.heartbeat("w1", {"backend": "preview"}, ttl_s=5)
    assert [w["id"] for w in jobs.live_workers(5)] == ["w1"]
    jobs.leave("w1")
    assert jobs.live_workers(5) == []


@pytest.fixture
def index(redis_client, tmp_path):
    return RedisResultIndex(redis_client, "results", DirectoryStore(tmp_path), max_size=2)


def scene(store: DirectoryStore, output_id: str) -> None:
    store.put_bytes(f"{output_id}.ply", b"ply")


def test_first_writer_wins_and_the_loser_files_go(index):
    scene(index.store, "1" * 32)
    scene(index.store, "2" * 32)
    assert index.put("k", "1" * 32, {"n": 1}).output_id == "1" * 32
    assert index.put("k", "2" * 32, {"n": 2}).output_id == "1" * 32
    assert not index.store.exists("2" * 32 + ".ply") and index.store.exists("1" * 32 + ".ply")
    assert index.put("k", "1" * 32, {"n": 1}).output_id == "1" * 32  # a re-run of the same job
    assert index.store.exists("1" * 32 + ".ply")


def test_eviction_deletes_the_oldest_files_and_hits_are_counted(index):
    for digit in "345":
        scene(index.store, digit * 32)
        index.put(f"k{digit}", digit * 32, {})
    assert index.load() == 2 and not index.store.exists("3" * 32 + ".ply")
    assert index.get("k3") is None and index.get("k5").output_id == "5" * 32
    assert index.find_output("4" * 32).key == "k4"
    stats = index.stats()
    assert (stats["hits"], stats["misses"], stats["size"]) == (1, 1, 2)
    index.remember_alias("upload", "k5")
    assert index.lookup_alias("upload").output_id == "5" * 32
    assert index.clear() == 2 and index.output_ids() == set()


def test_the_time_in_the_current_stage_restarts_with_each_stage(jobs, redis_client, monkeypatch):
    import time

    job = "b" * 32
    clock = [1000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    jobs.create(job, {"job_id": job})
    clock[0] = 1004.0
    assert jobs.snapshot(job)["stage_elapsed_s"] == 4.0  # queued since creation
    jobs.advance(job, "inference")
    clock[0] = 1010.5
    assert jobs.snapshot(job)["stage_elapsed_s"] == 6.5
    jobs.advance(job, "loading")  # refused (backwards): the clock of 'inference' keeps running
    clock[0] = 1011.0
    assert jobs.snapshot(job)["stage_elapsed_s"] == 7.0
    jobs.publish_draft(job, {"id": "d"})  # 'draft' is before 'inference': the scene lands, the stage stays
    assert jobs.snapshot(job)["stage"] == "inference"
