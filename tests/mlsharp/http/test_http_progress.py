"""GET /api/jobs/{id} says how far a job is (``progress``) and how long it still needs (``eta_s``),
from the stage timings of the jobs this server finished before it."""

from __future__ import annotations

from mlsharp.progress import StageTimings
from route_helpers import hang_task, poll_job, poll_until, unique_png


def submit(client, seed: int) -> str:
    accepted = client.post("/api/jobs", files={"file": ("p.png", unique_png(seed), "image/png")})
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["job_id"]


def test_finished_jobs_are_complete_and_teach_the_timings(client, owner, monkeypatch):
    monkeypatch.setattr(owner.service, "timings", StageTimings())
    status = poll_job(client, submit(client, 501))
    assert status["state"] == "done" and (status["progress"], status["eta_s"]) == (1.0, 0.0)
    expected = owner.service.timings.expected("preview", status["result"]["input_size"])
    assert expected is not None and set(expected) == {"loading", "inference", "saving"}


def test_a_running_job_has_a_progress_and_eta_from_the_recorded_timings(client, owner, monkeypatch):
    timings = StageTimings()
    for _ in range(3):  # what earlier jobs at 512 took, made up: 100 s to load, 200 to infer, 100 to save
        timings.record({"backend": "preview", "input_size": 512, "cache_hit": False,
                        "timings": {"image_load": 100.0, "inference": 200.0, "ply_save": 100.0}})
    monkeypatch.setattr(owner.service, "timings", timings)
    monkeypatch.setattr("mlsharp.engines.batching.execute", hang_task)  # stays in 'loading' until the timeout
    job_id = submit(client, 502)
    status = poll_until(client, f"/api/jobs/{job_id}", states=("running", "error"))
    assert status["state"] == "running" and status["stage"] == "loading", status
    in_stage = status["stage_elapsed_s"]
    assert 0.0 <= in_stage < 3.0  # performance.predict_timeout of these tests
    assert status["progress"] == round(in_stage / 400.0, 4)
    assert status["eta_s"] == round(400.0 - in_stage, 3)
    ended = poll_job(client, job_id)
    assert ended["state"] == "error" and ended["progress"] is None and ended["eta_s"] is None


def test_nothing_measured_means_no_estimate(client, owner, monkeypatch):
    monkeypatch.setattr(owner.service, "timings", StageTimings())
    monkeypatch.setattr("mlsharp.engines.batching.execute", hang_task)
    job_id = submit(client, 503)
    status = poll_until(client, f"/api/jobs/{job_id}", states=("running", "error"))
    assert status["state"] == "running"
    assert status["progress"] is None and status["eta_s"] is None
    poll_job(client, job_id)  # it ends at the predict timeout; the worker is restarted for the next test
