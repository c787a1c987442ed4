"""Progress and ETA of a job from recent stage timings, with made-up, deterministic timings."""

from __future__ import annotations

import pytest

from mlsharp.progress import KEEP, JobPlan, StageTimings, estimate


def result(side: int, load: float, infer: float, save: float, backend: str = "sharp", hit: bool = False) -> dict:
    return {"backend": backend, "input_size": side, "cache_hit": hit,
            "timings": {"image_load": load, "inference": infer, "ply_save": save, "total": load + infer + save}}


def running(stage: str, in_stage: float) -> dict:
    return {"state": "running", "stage": stage, "stage_elapsed_s": in_stage}


@pytest.fixture
def timings() -> StageTimings:
    record = StageTimings()
    for infer in (9.0, 10.0, 30.0):  # the median ignores the one slow outlier
        record.record(result(1024, 1.0, infer, 2.0))
    return record


def test_medians_of_the_recent_runs(timings):
    assert timings.expected("sharp", 1024) == {"loading": 1.0, "inference": 10.0, "saving": 2.0}
    assert timings.expected("preview", 1024) is None


def test_a_running_job_is_placed_on_the_expected_timeline(timings):
    plan = JobPlan("sharp", 1024)
    assert estimate(running("loading", 0.5), plan, timings) == {"progress": round(0.5 / 13, 4), "eta_s": 12.5}
    assert estimate(running("inference", 4.0), plan, timings) == {"progress": round(5 / 13, 4), "eta_s": 8.0}
    assert estimate(running("saving", 1.0), plan, timings) == {"progress": round(12 / 13, 4), "eta_s": 1.0}


def test_a_stage_longer_than_measured_never_goes_negative_or_reaches_one(timings):
    late = estimate(running("inference", 60.0), JobPlan("sharp", 1024), timings)
    assert late == {"progress": round(11 / 13, 4), "eta_s": 2.0}  # only the saving is left to count
    last = estimate(running("saving", 60.0), JobPlan("sharp", 1024), timings)
    assert last == {"progress": 0.99, "eta_s": 0.0}


def test_an_unmeasured_side_is_scaled_by_the_square_of_the_side(timings):
    expected = timings.expected("sharp", 512)
    assert expected == {"loading": 1.0, "inference": 2.5, "saving": 0.5}
    assert estimate(running("inference", 0.0), JobPlan("sharp", 512), timings)["eta_s"] == 3.0


def test_progressive_jobs_draft_first_then_compute_the_requested_side(timings):
    plan = JobPlan("sharp", 1024, draft_side=512)  # drafting = 2.5 + 0.5 at 512
    assert estimate(running("drafting", 1.0), plan, timings) == {"progress": round(2 / 16, 4), "eta_s": 14.0}
    assert estimate(running("draft", 0.0), plan, timings) == estimate(running("inference", 0.0), plan, timings)
    assert estimate(running("inference", 0.0), plan, timings)["eta_s"] == 12.0


def test_unknown_until_something_was_measured_and_while_queued(timings):
    assert estimate(running("loading", 1.0), JobPlan("preview", 512), timings) == {"progress": None, "eta_s": None}
    assert estimate({"state": "queued", "stage": "queued"}, JobPlan("sharp", 1024), timings)["eta_s"] is None
    assert estimate(running("loading", 1.0), None, timings)["progress"] is None  # a job this server did not plan
    assert estimate({"state": "done", "stage": "done"}, None, timings) == {"progress": 1.0, "eta_s": 0.0}
    assert estimate({"state": "error", "stage": "error"}, None, timings)["progress"] is None


def test_cache_hits_are_not_timings_and_the_record_is_bounded():
    record = StageTimings()
    record.record(result(512, 0.0, 0.0, 0.0, hit=True))
    record.record({"backend": "sharp", "input_size": 512})  # no timings at all
    assert record.expected("sharp", 512) is None
    for i in range(KEEP + 5):
        record.record(result(512, 1.0, float(i), 1.0))
    assert record.expected("sharp", 512)["inference"] == (5 + KEEP + 4) / 2  # median of the last KEEP
