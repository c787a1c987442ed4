"""optimization.max_batch_size: waiting photos of one input side share a forward in the worker.

Through the service with the tiny SHARP network: a batch gives each photo the scene its own
forward gives (within float tolerance), photos of different sides are never mixed, a bad photo
fails alone, and B=1 computes one photo per forward as before. The test holds the only worker
itself while it queues the jobs (so the batch is not left to timing), then lets it go. Cancel
inside a running batch is checked on the gatherer itself with a worker the test controls.
"""

from __future__ import annotations

import asyncio
import io
from contextlib import contextmanager

import numpy as np
import pytest
from fastapi.testclient import TestClient
from plyfile import PlyData

from app import MLSharpApp
from ext_servers import wait_for
from mlsharp.engines import JobSpec
from mlsharp.engines.batching import Gatherer
from mlsharp.engines.task import Executed
from sharpnet.utils.photo import load_photo
from svc_helpers import job_snapshots, png_bytes, service_config


def tiny_app(tiny_a_dir, root, batch: int, side: int = 512, progressive: bool = False) -> MLSharpApp:
    return MLSharpApp(service_config(root, model={"checkpoint": str(tiny_a_dir / "state_dict.pt"),
                                                  "model_config": str(tiny_a_dir / "config.json")},
                                     inference={"input_size": [side, side]},
                                     optimization={"max_batch_size": batch, "progressive": progressive},
                                     performance={"max_concurrency": 8}))


def photos(tiny_a_dir) -> list[bytes]:
    """Three different photos of three different shapes (all computed at side 512)."""
    rgb = load_photo(tiny_a_dir / "input.png").rgb
    return [(tiny_a_dir / "input.png").read_bytes(), png_bytes(np.ascontiguousarray(rgb[::-1, ::-1])),
            png_bytes(np.ascontiguousarray(rgb[40:, 100:]))]


def post_job(client, data: bytes, **fields) -> str:
    response = client.post("/api/jobs", files={"file": ("p.png", data, "image/png")}, data=fields)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


@contextmanager
def only_worker_held(client, owner: MLSharpApp, queued: int):
    """Take the single worker away while jobs are queued; on exit wait until ``queued`` jobs wait
    for it, then give it back (they are then grouped as they stand in the queue)."""
    pool = owner.models.pool
    slot = client.portal.call(pool.acquire)
    try:
        yield
        wait_for(lambda: owner.engine.gatherer.waiting() == queued, 60, f"{queued} queued jobs")
    finally:
        client.portal.call(pool.release, slot)


def finished(client, job_id: str) -> dict:
    return job_snapshots(client, job_id)[-1]


def vertices(client, result: dict) -> np.ndarray:
    ply = PlyData.read(io.BytesIO(client.get(result["url"]).content))["vertex"].data
    return np.stack([ply[name].astype(np.float64) for name in ply.dtype.names], axis=1)


def test_a_batch_gives_each_photo_its_own_scene(tiny_a_dir, tmp_path):
    uploads = photos(tiny_a_dir)
    batched = tiny_app(tiny_a_dir, tmp_path / "b4", batch=4)
    with TestClient(batched.app) as client:
        with only_worker_held(client, batched, queued=3):
            ids = [post_job(client, data, f_px=str(f)) for data, f in zip(uploads, (520, 400, 610))]
        results = [finished(client, job_id)["result"] for job_id in ids]
        assert [r["batch_size"] for r in results] == [3, 3, 3]
        together = [vertices(client, r) for r in results]
    alone_app = tiny_app(tiny_a_dir, tmp_path / "b1", batch=1)
    with TestClient(alone_app.app) as client:
        for data, f, ours in zip(uploads, (520, 400, 610), together):
            alone = client.post("/api/predict", files={"file": ("p.png", data, "image/png")},
                                data={"f_px": str(f)}).json()
            assert alone["batch_size"] == 1 and alone["cache_hit"] is False
            theirs = vertices(client, alone)
            assert ours.shape == theirs.shape
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert not np.allclose(together[0], together[1])  # three different scenes, or this proves nothing


def test_sides_are_never_mixed_and_a_bad_photo_fails_alone(tiny_a_dir, tmp_path):
    good = photos(tiny_a_dir)
    bad = good[0][:300]  # a valid PNG header, truncated data: only the worker's decode finds out
    owner = tiny_app(tiny_a_dir, tmp_path, batch=3)
    with TestClient(owner.app) as client:
        with only_worker_held(client, owner, queued=5):
            a = post_job(client, good[0])
            b = post_job(client, good[1], input_size="1024")
            broken = post_job(client, bad)
            c = post_job(client, good[2])
            e = post_job(client, good[0], input_size="1024")
        results = {name: finished(client, job_id) for name, job_id in
                   {"a": a, "b": b, "broken": broken, "c": c, "e": e}.items()}
    assert results["broken"]["state"] == "error" and results["broken"]["error"]["status_code"] == 400
    done = {name: s["result"] for name, s in results.items() if name != "broken"}
    assert all(s["state"] == "done" for n, s in results.items() if n != "broken"), results
    assert {n: (r["input_size"], r["batch_size"]) for n, r in done.items()} == {
        "a": (512, 2), "c": (512, 2), "b": (1024, 2), "e": (1024, 2)}


def test_one_photo_per_forward_by_default(tiny_a_dir, tmp_path):
    owner = tiny_app(tiny_a_dir, tmp_path, batch=1)
    assert owner.config.optimization.max_batch_size == 1
    with TestClient(owner.app) as client:
        with only_worker_held(client, owner, queued=3):
            ids = [post_job(client, data) for data in photos(tiny_a_dir)]
        results = [finished(client, job_id) for job_id in ids]
    assert [(s["state"], s["result"]["batch_size"]) for s in results] == [("done", 1)] * 3


def test_progressive_jobs_batch_their_drafts_then_their_finals(tiny_a_dir, tmp_path):
    owner = tiny_app(tiny_a_dir, tmp_path, batch=2, side=1024, progressive=True)
    with TestClient(owner.app) as client:
        with only_worker_held(client, owner, queued=2):
            ids = [post_job(client, data) for data in photos(tiny_a_dir)[:2]]
        ends = [finished(client, job_id) for job_id in ids]
    for end in ends:
        assert end["state"] == "done", end
        draft, result = end["draft"], end["result"]
        assert (draft["draft"], draft["input_size"], draft["batch_size"]) == (True, 512, 2)
        assert (result["draft"], result["input_size"], result["batch_size"]) == (False, 1024, 2)
        assert draft["timings"]["total"] < result["timings"]["total"]


# ---------------------------------------------------------------------- cancel, with a fake worker


class FakeSlot:
    def __init__(self) -> None:
        self.rebuilt: list[str] = []

    def rebuild(self, why: str) -> None:
        self.rebuilt.append(why)


class FakePool:
    """One slot; a worker call returns only when the test lets it (``go``)."""

    def __init__(self) -> None:
        self.slot, self.free = FakeSlot(), asyncio.Queue()
        self.free.put_nowait(self.slot)
        self.go, self.calls = asyncio.Event(), []

    async def acquire(self):
        return await self.free.get()

    def release(self, slot) -> None:
        self.free.put_nowait(slot)

    async def run_on(self, slot, fn, *args, on_stage=None, timeout=None):
        self.calls.append(fn.__name__)
        await self.go.wait()
        if fn.__name__ == "execute_batch":
            return [Executed(1, 0.0, 0.0, 0) for _ in args[0]]
        return Executed(1, 0.0, 0.0, 0)


def spec(n: int) -> JobSpec:
    return JobSpec(job_id=f"{n:032x}", photo="p", output=f"/nonexistent/{n}.ply", f_px=None, side=512,
                   max_pixels=1, use_cache=False)


async def run_members(count: int, cancel: int | None):
    pool, discarded = FakePool(), []
    gatherer = Gatherer(lambda: pool, 4, s3=None, timeout=None, discard=discarded.append)
    pool.free.get_nowait()  # the worker is busy while the jobs arrive

    async def one(n: int):
        group, member = await gatherer.join(spec(n), lambda stage: None)
        cancelled = False
        try:
            return await group.execute(member, spec(n), False, None)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            group.leave(member, cancelled)

    tasks = [asyncio.create_task(one(n)) for n in range(count)]
    while gatherer.waiting() < count:
        await asyncio.sleep(0)
    pool.release(pool.slot)
    while not pool.calls:
        await asyncio.sleep(0)
    if cancel is not None:
        tasks[cancel].cancel()
        with pytest.raises(asyncio.CancelledError):
            await tasks[cancel]  # ends at once, while the worker still computes
    pool.go.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    await gatherer.close()
    return pool, discarded, outcomes


def test_cancelling_one_job_of_a_batch_leaves_the_others_running():
    pool, discarded, outcomes = asyncio.run(run_members(3, cancel=1))
    assert pool.calls == ["execute_batch"] and pool.slot.rebuilt == []  # the others' work went on
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert all(isinstance(outcomes[i], Executed) for i in (0, 2))
    assert [s.job_id for s in discarded] == [spec(1).job_id]  # its scene, come back late, is deleted
    assert pool.free.qsize() == 1  # the worker is free again


def test_cancelling_a_job_computed_alone_stops_its_worker():
    pool, discarded, outcomes = asyncio.run(run_members(1, cancel=0))
    assert pool.calls == ["execute"] and pool.slot.rebuilt == ["its job was cancelled"]
    assert pool.free.qsize() == 1


