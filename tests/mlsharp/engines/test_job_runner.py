"""The worker's job body against a real Redis: never retry bad input, bounded attempts, dead letters.

The broker side uses Dramatiq's StubBroker (allowed in unit tests); the cluster test runs the
real Redis broker end to end.
"""

from __future__ import annotations

import signal

import pytest

from mlsharp import worker
from mlsharp.backends.base import BackendSpec
from mlsharp.backends.preview import IDENTITY
from mlsharp.engines import JobSpec
from mlsharp.engines.cluster import ClusterSettings
from mlsharp.engines.dramatiq_worker import GaveUp, JobRunner, Transient
from mlsharp.storage.directory import DirectoryStore
from svc_helpers import block_photo, png_bytes


@pytest.fixture(scope="module", autouse=True)
def preview_backend():
    handler = signal.getsignal(signal.SIGINT)
    worker.init_worker(BackendSpec(name="preview", identity=IDENTITY))
    signal.signal(signal.SIGINT, handler)  # init_worker ignores Ctrl+C (pool workers must)


@pytest.fixture
def runner(redis_client, redis_url, tmp_path):
    settings = ClusterSettings(redis_url=redis_url, results=str(tmp_path / "results"), max_attempts=2,
                               cache_enabled=False)
    return JobRunner(settings, "test-worker")


def job(runner: JobRunner, data: bytes, output_dir=None) -> JobSpec:
    photos = DirectoryStore(runner.settings.inflight_root)
    job_id = "%032x" % (len(runner.jobs.client.keys("mlsharp:job:*")) + 1)
    photos.put_bytes(job_id, data)
    output = (output_dir or runner.uncached.store.directory) / f"{job_id}.ply"
    spec = JobSpec(job_id=job_id, photo=photos.uri(job_id), output=str(output), f_px=None, side=512,
                   max_pixels=10**8, use_cache=False)
    runner.jobs.create(job_id, spec.to_dict())
    return spec


def test_a_job_runs_once_and_its_photo_is_deleted(runner):
    spec = job(runner, png_bytes(block_photo()))
    runner.run(spec.to_dict())
    snapshot = runner.jobs.snapshot(spec.job_id)
    assert snapshot["state"] == "done" and snapshot["result"]["id"] == spec.job_id
    assert not DirectoryStore(runner.settings.inflight_root).exists(spec.job_id)
    runner.run(spec.to_dict())  # delivered again (ack lost): nothing runs twice
    assert runner.jobs.snapshot(spec.job_id)["attempts"] == 1


def test_bad_input_ends_the_job_at_once_and_is_not_retried(runner):
    spec = job(runner, png_bytes(block_photo())[:200])  # valid header, truncated data
    runner.run(spec.to_dict())  # returns normally: the message is acknowledged, not retried
    snapshot = runner.jobs.snapshot(spec.job_id)
    assert snapshot["state"] == "error" and snapshot["error"]["status_code"] == 400
    assert runner.jobs.counters().get("retries", 0) == 0


def test_failures_are_retried_then_dead_lettered(runner, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the output folder should be")
    spec = job(runner, png_bytes(block_photo()), output_dir=blocked)
    with pytest.raises(Transient):
        runner.run(spec.to_dict())
    assert runner.jobs.snapshot(spec.job_id)["state"] == "running" and runner.retry_when(0, Transient("x"))
    with pytest.raises(GaveUp):
        runner.run(spec.to_dict())  # the second of max_attempts=2
    snapshot = runner.jobs.snapshot(spec.job_id)
    assert snapshot["state"] == "error" and "failed after 2 attempts" in snapshot["error"]["detail"]
    assert runner.jobs.counters() == {"retries": 1, "requeued": 1, "dead_lettered": 1}
    assert not runner.retry_when(1, Transient("x")) and not runner.retry_when(0, GaveUp("x"))


def test_a_job_whose_workers_keep_dying_gives_up(runner):
    spec = job(runner, png_bytes(block_photo()))
    runner.jobs.begin(spec.job_id, "died-1")
    runner.jobs.begin(spec.job_id, "died-2")  # two starts that never finished
    with pytest.raises(GaveUp):
        runner.run(spec.to_dict())
    error = runner.jobs.snapshot(spec.job_id)["error"]
    assert error["status_code"] == 500 and "gave up after 2 attempts" in error["detail"]


def test_dramatiq_moves_a_given_up_message_to_the_dead_letters(runner):
    import dramatiq
    from dramatiq.brokers.stub import StubBroker
    from dramatiq.middleware import Retries

    broker = StubBroker(middleware=[Retries(max_retries=5, min_backoff=1, max_backoff=2)])
    actor = dramatiq.actor(runner.run, broker=broker, actor_name="t", queue_name="q",
                           retry_when=runner.retry_when, throws=(GaveUp,))
    spec = job(runner, png_bytes(block_photo()))
    for _ in range(runner.settings.max_attempts):
        runner.jobs.begin(spec.job_id, "died")
    consumer = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    consumer.start()
    try:
        actor.send(spec.to_dict())
        broker.join("q", fail_fast=False)
        consumer.join()
    finally:
        consumer.stop()
    assert len(broker.dead_letters) == 1 and runner.jobs.snapshot(spec.job_id)["state"] == "error"
