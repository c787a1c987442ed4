"""The API side of the dramatiq engine against a real Redis (no worker running): jobs are queued
and visible, admission follows the shared queue depth, and Redis being away is a 503."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from app import MLSharpApp
from ext_servers import free_port
from svc_helpers import block_photo, png_bytes, service_config


def upload_job(client, data: bytes):
    return client.post("/api/jobs", files={"file": ("p.png", data, "image/png")})


def dramatiq_app(tmp_path, redis_url: str, **jobs) -> MLSharpApp:
    return MLSharpApp(service_config(tmp_path, model={"backend": "preview"},
                                     jobs={"engine": "dramatiq", "redis_url": redis_url, **jobs}))


def test_jobs_wait_in_redis_and_admission_follows_the_shared_depth(tmp_path, redis_url, redis_client):
    app = dramatiq_app(tmp_path, redis_url, max_queue=2)
    with TestClient(app.app) as client:
        first = upload_job(client, png_bytes(block_photo(32, 24)))
        assert first.status_code == 202, first.text
        job_id = first.json()["job_id"]
        assert client.get(f"/api/jobs/{job_id}").json()["state"] == "queued"
        assert redis_client.sismember("mlsharp:active", job_id)
        spec = json.loads(redis_client.hget(f"mlsharp:job:{job_id}", "spec"))
        assert spec["download_name"] == "p"  # the worker names the result after the upload
        assert upload_job(client, png_bytes(block_photo(40, 24))).status_code == 202
        refused = upload_job(client, png_bytes(block_photo(48, 24)))
        assert refused.status_code == 503 and "Server busy: 2 photos waiting" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
        health = client.get("/api/health").json()
        assert health["status"] == "starting" and health["jobs"]["queue_depth"] == 2  # no worker yet
        metrics = client.get("/metrics").text
        assert "jobs_queue_depth 2.0" in metrics and "jobs_workers_alive 0.0" in metrics


def test_redis_away_is_a_503_not_a_500(tmp_path):
    app = dramatiq_app(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    assert "cannot reach Redis" in app.engine.preflight()
    client = TestClient(app.app)  # lifespan not run: Redis is down
    response = upload_job(client, png_bytes(block_photo()))
    assert response.status_code == 503 and "unreachable" in response.json()["detail"]
    assert client.get("/api/health").json()["jobs"]["redis"] == "unreachable"
