"""Progressive jobs on the dramatiq engine: a real redis-server, the API in this process and one
real ``python app.py worker`` with the tiny SHARP network. The worker publishes the draft scene
through Redis (stage ``draft``, its own id and URLs, ``"draft": true``) before the final one, just
as the local engine does, and both scenes are cached in the shared index."""

from __future__ import annotations

import yaml
from fastapi.testclient import TestClient

from app import MLSharpApp
from cluster_helpers import Cluster
from ext_servers import wait_for
from mlsharp.config import build_config
from svc_helpers import job_snapshots


def cluster_config(root, tiny_a_dir, redis_url) -> dict:
    return {
        "browser": {"open": False},
        "logging": {"file": False, "level": "INFO"},
        "model": {"checkpoint": str(tiny_a_dir / "state_dict.pt"), "model_config": str(tiny_a_dir / "config.json"),
                  "temp_dir": str(root / "tmp")},
        "cache": {"dir": str(root / "cache")},
        "inference": {"input_size": [1024, 1024]},
        "optimization": {"progressive": True, "progressive_size": 512},
        "jobs": {"engine": "dramatiq", "redis_url": redis_url, "heartbeat_timeout_s": 5.0},
        "storage": {"results": str(root / "results")},
    }


def upload(client, data: bytes, path: str = "/api/jobs", **fields):
    return client.post(path, files={"file": ("input.png", data, "image/png")}, data={"f_px": "520", **fields})


def test_a_worker_publishes_the_draft_then_the_final_scene(tiny_a_dir, tmp_path, redis_url, redis_client):
    settings = cluster_config(tmp_path, tiny_a_dir, redis_url)
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    cluster = Cluster(tmp_path, path, port=0)
    owner = MLSharpApp(build_config(settings)[0])
    data = (tiny_a_dir / "input.png").read_bytes()
    try:
        with TestClient(owner.app) as client:
            cluster.start_worker()
            wait_for(lambda: client.get("/api/health").json()["jobs"]["workers"], 180, "a live worker")
            job = upload(client, data)
            assert job.status_code == 202, job.text
            seen = job_snapshots(client, job.json()["job_id"])
            final = seen[-1]
            assert final["state"] == "done", final
            draft, result = final["draft"], final["result"]
            assert draft is not None, "the worker published no draft"
            assert draft["draft"] is True and draft["input_size"] == 512
            assert result["draft"] is False and result["input_size"] == 1024
            assert draft["id"] != result["id"] and draft["url"] != result["url"]
            assert draft["num_gaussians"] == 2 * 256 * 256 and result["num_gaussians"] == 2 * 512 * 512
            assert draft["timings"]["total"] < result["timings"]["total"]  # published first
            # Whatever the polling caught at stage 'draft' carried the scene and not yet the result.
            assert all(s["draft"] is not None and s["result"] is None for s in seen if s["stage"] == "draft")
            for scene in (draft, result):
                assert client.get(scene["url"]).status_code == 200
            # Both in the shared cache: the draft answers a request at its side, the final a repeat.
            at_draft = upload(client, data, "/api/predict", input_size="512").json()
            assert at_draft["cache_hit"] is True and at_draft["id"] == draft["id"]
            again = job_snapshots(client, upload(client, data).json()["job_id"])[-1]
            assert again["result"]["cache_hit"] is True and again["result"]["id"] == result["id"]
    finally:
        cluster.close()


def test_a_finished_job_gains_no_draft(redis_client):
    from mlsharp.engines.redis_jobs import RedisJobs

    jobs = RedisJobs(redis_client)
    jobs.create("a" * 32, {})
    assert jobs.publish_draft("a" * 32, {"id": "d", "draft": True})
    snapshot = jobs.snapshot("a" * 32)
    assert snapshot["stage"] == "draft" and snapshot["draft"]["id"] == "d" and snapshot["result"] is None
    jobs.advance("a" * 32, "inference")
    assert jobs.cancel("a" * 32)
    assert not jobs.publish_draft("a" * 32, {"id": "late", "draft": True})  # cancelled meanwhile
    assert jobs.snapshot("a" * 32)["draft"]["id"] == "d" and jobs.snapshot("a" * 32)["stage"] == "cancelled"
