"""A real cluster: redis-server, an API server and two ``python app.py worker`` processes.

20 jobs; one worker is SIGKILLed in the middle of a job and the API server is restarted while
jobs are in flight. Every job must end done exactly once with a readable PLY: none lost, none
duplicated, no photo or partial file left behind -- with results in a folder and in S3 (moto).
"""

from __future__ import annotations

import io
import os
import signal
import socket
import time
import uuid

import boto3
import pytest
from fastapi.testclient import TestClient
from plyfile import PlyData

from cluster_helpers import Cluster, free_port, photo_jpeg, submit, write_config
from ext_servers import S3_ENV

JOBS = 20


def kill_mid_job(client, worker) -> str:
    """SIGKILL ``worker`` while it runs a job (frozen first, so the job cannot finish meanwhile)."""
    prefix = f"{socket.gethostname()}-{worker.pid}-".encode()
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for raw in client.smembers("mlsharp:active"):
            key = f"mlsharp:job:{raw.decode()}"
            owner, state = client.hmget(key, "worker", "state")
            if owner and owner.startswith(prefix) and state == b"running":
                os.kill(worker.pid, signal.SIGSTOP)
                owner, state = client.hmget(key, "worker", "state")
                if owner.startswith(prefix) and state == b"running":
                    os.kill(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=10)
                    return raw.decode()
                os.kill(worker.pid, signal.SIGCONT)  # it finished just before: try the next one
        time.sleep(0.005)
    raise AssertionError("never saw the worker in the middle of a job")


def wait_all(cluster: Cluster, ids: list[str], deadline_s: float = 180.0) -> dict[str, dict]:
    finals: dict[str, dict] = {}
    end = time.monotonic() + deadline_s
    while len(finals) < len(ids) and time.monotonic() < end:
        for job_id in ids:
            if job_id not in finals:
                status = cluster.get(f"/api/jobs/{job_id}")
                if status["state"] in ("done", "error"):
                    finals[job_id] = status
        time.sleep(0.25)
    assert len(finals) == len(ids), f"{len(ids) - len(finals)} job(s) never finished"
    return finals


def local_engine_ply(tmp_path, data: bytes) -> bytes:
    """The same photo through the local engine (this process's pool)."""
    from app import MLSharpApp
    from svc_helpers import service_config

    app = MLSharpApp(service_config(tmp_path / "local", model={"backend": "preview"},
                                    inference={"input_size": [512, 512]}))
    with TestClient(app.app) as client:
        body = client.post("/api/predict", files={"file": ("p.jpg", data, "image/jpeg")}).json()
        return client.get(body["url"]).content


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_jobs_survive_a_killed_worker_and_an_api_restart(where, tmp_path, redis_url, redis_client, request):
    env: dict[str, str] = {}
    storage: dict[str, str] = {}
    if where == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"scenes-{uuid.uuid4().hex[:8]}"
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=bucket)
        results, storage, env = f"s3://{bucket}/results", {"s3_endpoint_url": endpoint}, dict(S3_ENV)
    else:
        results = str(tmp_path / "results")
    port = free_port()
    cluster = Cluster(tmp_path, write_config(tmp_path, redis_url, results, port, **storage), port, env)
    photos = [photo_jpeg(seed) for seed in range(JOBS)]
    try:
        cluster.start_api()
        victim, _ = cluster.start_worker(), cluster.start_worker()
        cluster.wait_workers(2)
        ids = [submit(cluster, data) for data in photos[: JOBS // 2]]
        killed_job = kill_mid_job(redis_client, victim)
        cluster.restart_api()
        ids += [submit(cluster, data) for data in photos[JOBS // 2:]]
        finals = wait_all(cluster, ids)

        assert {s["state"] for s in finals.values()} == {"done"}, [s["error"] for s in finals.values()]
        assert [finals[i]["result"]["id"] for i in ids] == ids  # one output per job, named by the job
        # the upload's name crossed Redis in the spec and came back in the worker's result
        assert {finals[i]["result"]["download_name"] for i in ids} == {"p"}
        assert all(finals[i]["result"]["url"].endswith(".ply?name=p") for i in ids)
        attempts = int(redis_client.hget(f"mlsharp:job:{killed_job}", "attempts"))
        assert attempts == 2, "the killed worker's job ran again exactly once more"
        health = cluster.health()
        assert health["jobs"]["requeued"] >= 1 and health["jobs"]["queue_depth"] == 0
        assert largest_redis_value(redis_client) < 16_384, "only ids, options and URIs go through Redis"
        for job_id in ids:
            with cluster_open(cluster, f"/api/outputs/{job_id}.ply") as ply_bytes:
                ply = PlyData.read(io.BytesIO(ply_bytes))
                assert ply["vertex"].count == finals[job_id]["result"]["num_gaussians"] > 0

        if where == "s3":
            listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            assert sorted(o["Key"] for o in listed) == sorted(f"results/{i}.ply" for i in ids)
        else:
            files = sorted(p.name for p in (tmp_path / "results").iterdir() if p.is_file())
            assert files == sorted(f"{i}.ply" for i in ids)  # no duplicate, no partial file
            assert list((tmp_path / "results" / "inflight").iterdir()) == []  # photos in flight gone
            first = (tmp_path / "results" / f"{ids[0]}.ply").read_bytes()
            assert first == local_engine_ply(tmp_path, photos[0]), "engines must write the same bytes"
        survivor = cluster.workers[1]
        survivor.send_signal(signal.SIGTERM)  # graceful: exits 0 and leaves the registry
        assert survivor.wait(timeout=60) == 0
        assert cluster.health()["jobs"]["workers"] == []
    finally:
        cluster.close()


def largest_redis_value(client) -> int:
    sizes = [0]
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"string":
            sizes.append(client.strlen(key))
        elif kind == b"hash":
            sizes.extend(len(value) for value in client.hvals(key))
        elif kind == b"list":
            sizes.extend(len(value) for value in client.lrange(key, 0, -1))
    return max(sizes)


class cluster_open:  # noqa: N801 - used like open()
    def __init__(self, cluster: Cluster, path: str) -> None:
        import urllib.request

        self.response = urllib.request.urlopen(cluster.url(path), timeout=30)

    def __enter__(self) -> bytes:
        return self.response.read()

    def __exit__(self, *exc) -> None:
        self.response.close()
