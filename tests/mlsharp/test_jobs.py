"""Job records: stages only move forward, late progress is ignored, the store stays bounded."""

from __future__ import annotations

import pytest

from mlsharp.jobs import Job, JobStore, JobStoreFull


def test_stages_only_move_forward():
    job = Job()
    assert (job.state, job.stage) == ("queued", "queued")
    job.advance("loading")
    assert (job.state, job.stage) == ("running", "loading")
    job.advance("inference")
    job.advance("loading")  # a late message must not move it back
    assert job.stage == "inference"
    job.advance("bogus")
    assert job.stage == "inference"


def test_progress_after_the_end_is_ignored():
    job = Job()
    job.advance("inference")
    job.succeed({"id": "x"})
    job.advance("saving")
    snap = job.snapshot()
    assert (snap["state"], snap["stage"], snap["result"]) == ("done", "done", {"id": "x"})
    assert snap["elapsed_s"] >= 0 and snap["error"] is None


def test_failure_is_recorded():
    job = Job()
    job.fail(400, "not an image")
    snap = job.snapshot()
    assert snap["state"] == "error" and snap["error"] == {"status_code": 400, "detail": "not an image"}


def test_store_forgets_the_oldest_finished_jobs_first():
    store = JobStore(max_jobs=2)
    old, running = store.add(Job()), store.add(Job())
    old.succeed({})
    newest = store.add(Job())
    assert store.get(old.id) is None
    assert store.get(running.id) is running and store.get(newest.id) is newest
    assert len(store) == 2


def test_store_never_drops_running_jobs():
    store = JobStore(max_jobs=1)
    store.add(Job())
    with pytest.raises(JobStoreFull):
        store.add(Job())


def test_the_time_in_the_current_stage_restarts_with_each_stage(monkeypatch):
    import time

    clock = [50.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    job = Job(created=50.0, stage_since=50.0)
    clock[0] = 52.0
    assert job.snapshot()["stage_elapsed_s"] == 2.0
    job.advance("inference")
    clock[0] = 55.5
    assert job.snapshot()["stage_elapsed_s"] == 3.5 and job.snapshot()["elapsed_s"] == 5.5
    job.advance("loading")  # backwards: ignored, the clock keeps running
    clock[0] = 56.0
    assert job.snapshot()["stage_elapsed_s"] == 4.0
    job.succeed({"id": "x"})
    clock[0] = 90.0
    assert job.snapshot()["stage_elapsed_s"] == 4.0  # frozen at the end
