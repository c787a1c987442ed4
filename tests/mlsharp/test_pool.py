"""Worker pool with real spawned processes: results, stage reports, crash recovery, timeouts.

One pool per module (a spawn start costs ~0.5 s); every test leaves it healthy for the next.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest

from mlsharp.backends.base import BackendSpec
from mlsharp.backends.preview import IDENTITY
from mlsharp.pool import TaskTimeout, WorkerCrashed, WorkerPool
from mlsharp.engines import JobSpec
from mlsharp.engines.task import execute as run_task
from mlsharp.worker import ping
from sharpnet.io.ply import read_ply
from svc_helpers import png_bytes


def die_now() -> None:
    """Runs in the worker: what the OS killing it mid-task looks like from outside."""
    os.kill(os.getpid(), signal.SIGKILL)


def hang_forever() -> None:
    """Runs in the worker: a task that never finishes on its own."""
    signal.pause()


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def pool(loop):
    pool = WorkerPool(BackendSpec(name="preview", identity=IDENTITY), workers=1)
    yield pool
    pool.shutdown(grace=2.0)


def wait_until_dead(pid: int, deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # reap it if it is our child so it stops being a zombie
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still alive")


def task(tmp_path, name="out.ply") -> JobSpec:
    """A job step that decodes a photo file and writes a PLY (the worker side of every job)."""
    photo = tmp_path / f"{name}.photo"
    photo.write_bytes(png_bytes(np.full((24, 32, 3), 128, np.uint8)))
    return JobSpec(job_id="0" * 32, photo=str(photo), output=str(tmp_path / name), f_px=30.0, side=512,
                   max_pixels=10**8, use_cache=False)


def test_warm_up_loads_the_backend_in_every_worker(loop, pool):
    reports = loop.run_until_complete(pool.warm_up(timeout=60))
    assert len(reports) == 1
    assert reports[0]["loaded"] and reports[0]["backend"] == "preview" and reports[0]["error"] is None
    assert reports[0]["pid"] != os.getpid()


def test_task_runs_in_the_worker_and_reports_its_stages(loop, pool, tmp_path):
    stages: list[str] = []
    result = loop.run_until_complete(pool.run(run_task, task(tmp_path), on_stage=stages.append))
    assert result.pid != os.getpid() and result.pid in pool.worker_pids()
    gaussians, meta = read_ply(tmp_path / "out.ply")
    assert len(gaussians) == result.num_gaussians > 0
    assert (meta.image_width, meta.image_height) == (32, 24)
    # progress arrives on another thread; it is in flight at most briefly after the result
    end = time.monotonic() + 5
    while len(stages) < 2 and time.monotonic() < end:
        time.sleep(0.01)
    assert stages == ["inference", "saving"]


def test_a_worker_killed_mid_task_fails_only_that_task_and_the_pool_recovers(loop, pool, tmp_path):
    before = pool.restarts
    with pytest.raises(WorkerCrashed, match="died while processing"):
        loop.run_until_complete(pool.run(die_now))
    assert pool.restarts == before + 1
    result = loop.run_until_complete(pool.run(run_task, task(tmp_path)))
    assert result.num_gaussians > 0


def test_an_idle_worker_killed_by_the_os_is_replaced_transparently(loop, pool, tmp_path):
    loop.run_until_complete(pool.run(ping))
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    wait_until_dead(pid)
    result = loop.run_until_complete(pool.run(run_task, task(tmp_path)))  # not an error for the caller
    assert result.pid != pid


def test_a_hung_task_times_out_and_its_worker_is_replaced(loop, pool, tmp_path):
    loop.run_until_complete(pool.run(ping))
    (pid,) = pool.worker_pids()
    with pytest.raises(TaskTimeout):
        loop.run_until_complete(pool.run(hang_forever, timeout=1.0))
    wait_until_dead(pid)
    assert loop.run_until_complete(pool.run(ping))["pid"] != pid


def test_worker_errors_propagate_as_exceptions(loop, pool):
    with pytest.raises(ValueError):
        loop.run_until_complete(pool.run(int, "not a number"))
    assert loop.run_until_complete(pool.run(ping))["loaded"]


def test_a_backend_that_cannot_load_is_reported_not_hidden(loop, tmp_path):
    broken = WorkerPool(BackendSpec(name="sharp", identity="x", checkpoint=str(tmp_path / "missing.pt")))
    try:
        (report,) = loop.run_until_complete(broken.warm_up(timeout=60))
        assert not report["loaded"] and "no checkpoint" in report["error"]
        with pytest.raises(RuntimeError, match="backend failed to load"):
            loop.run_until_complete(broken.run(run_task, task(tmp_path)))
    finally:
        broken.shutdown(grace=2.0)


def test_slots_are_exclusive(loop, pool):
    async def scenario() -> list[int]:
        async with pool.slot():
            waiter = asyncio.ensure_future(pool.run(ping))
            await asyncio.sleep(0)
            assert not waiter.done() and pool.idle_slots == 0
        return [(await waiter)["pid"]]

    assert loop.run_until_complete(scenario())
