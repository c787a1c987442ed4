"""Per-caller ownership over HTTP: API keys and JWTs as callers, 404 for another caller's things, 401s.

Also the jobs' webhook (a loopback receiver that fails the first delivery gets a signed retry,
visible on the job) and cancel of queued and running jobs on the local engine.
"""

from __future__ import annotations

import json
import time

import jwt
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from starlette.requests import Request

from app import MLSharpApp
from mlsharp.http import deps
from mlsharp.webhooks import verify
from route_helpers import hang_task, poll_until, unique_png
from svc_helpers import service_config
from webhook_receiver import Receiver

KEY_A, KEY_B = "a" * 20, "b" * 20
JWT_SECRET = "j" * 40
HOOK_SECRET = "hook-secret-for-tests"


def token(sub: str, **claims) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600, **claims}, JWT_SECRET, algorithm="HS256")


A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}
def carol() -> dict:
    """Carol's header, with a token made now: one made at import expired before a slow run got here."""
    return {"Authorization": f"Bearer {token('carol')}"}


@pytest.fixture(scope="module")
def owner(tmp_path_factory):
    root = tmp_path_factory.mktemp("owned")
    config = service_config(
        root, security={"api_keys": [KEY_A, KEY_B], "jwt_secret": JWT_SECRET},
        webhooks={"secret": HOOK_SECRET, "allow_private": True, "backoff_s": 0.05},
        limits={"max_queued_per_caller": 3}, performance={"predict_timeout": 30.0},
    )
    return MLSharpApp(config)


@pytest.fixture(scope="module")
def client(owner):
    with TestClient(owner.app) as client:
        yield client


def submit(client, headers, seed, **fields):
    response = client.post("/api/jobs", headers=headers, data=fields,
                           files={"file": ("p.png", unique_png(seed), "image/png")})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def poll(client, job_id, headers, until=("done", "error", "cancelled")):
    return poll_until(client, f"/api/jobs/{job_id}", until, headers=headers, deadline_s=60.0)


def test_another_caller_cannot_read_download_or_cancel_a_job(client):
    job_id = submit(client, A, 101)
    status = poll(client, job_id, A)
    assert status["state"] == "done"
    url, viewer = status["result"]["url"], status["result"]["viewer_url"]
    assert client.get(url, headers=A).status_code == 200
    for intruder in (B, carol()):
        for response in (client.get(f"/api/jobs/{job_id}", headers=intruder), client.get(url, headers=intruder),
                         client.get(viewer, headers=intruder), client.delete(f"/api/jobs/{job_id}", headers=intruder)):
            assert response.status_code == 404, response.text
            assert "no job" in response.json()["detail"] or "no output" in response.json()["detail"]
    unknown = client.get("/api/jobs/" + "0" * 32, headers=B)
    assert unknown.status_code == 404 and unknown.json()["detail"].startswith("no job")


def test_a_token_is_its_own_caller_and_a_cache_hit_grants_the_output(client):
    first = poll(client, submit(client, A, 102), A)
    again = poll(client, submit(client, carol(), 102), carol())  # the same photo: a cache hit for carol
    assert again["result"]["id"] == first["result"]["id"]
    assert client.get(again["result"]["url"], headers=carol()).status_code == 200
    assert client.get(again["result"]["url"], headers=B).status_code == 404


def test_a_synchronous_prediction_grants_its_output(client):
    response = client.post("/api/predict", headers=B, files={"file": ("p.png", unique_png(103), "image/png")})
    assert response.status_code == 200
    assert client.get(response.json()["url"], headers=B).status_code == 200
    assert client.get(response.json()["url"], headers=A).status_code == 404


@pytest.mark.parametrize("make,reason", [
    (lambda: {}, "missing or invalid credentials"),
    (lambda: {"X-API-Key": "x" * 20}, "missing or invalid credentials"),
    (lambda: {"Authorization": f"Bearer {token('carol', exp=int(time.time()) - 300)}"}, "expired"),
    (lambda: {"Authorization": "Bearer " + jwt.encode({"sub": "carol", "exp": int(time.time()) + 600}, "f" * 40,
                                                      algorithm="HS256")}, "signature does not verify"),
    (lambda: {"Authorization": f"Bearer {token('carol', nbf=int(time.time()) + 600)}"}, "not valid yet"),
], ids=["none", "unknown-key", "expired", "forged", "nbf"])
def test_missing_expired_and_forged_credentials_are_401(client, make, reason):
    # Tokens are made when the test runs: made at collection they could expire (or become valid)
    # before a long suite reaches this test.
    response = client.get("/api/cache", headers=make())
    assert response.status_code == 401 and reason in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_webhook_failed_once_is_retried_signed_and_shown_on_the_job(client, owner):
    with Receiver([500]) as receiver:
        job_id = submit(client, A, 104, webhook_url=receiver.url)
        requests = receiver.wait_for(2)
    _, headers, body = requests[1]
    assert verify(HOOK_SECRET, headers["X-MLSharp-Timestamp"], headers["X-MLSharp-Signature"], body)
    payload = json.loads(body)
    assert payload["event"] == "job.finished" and payload["job_id"] == job_id and payload["state"] == "done"
    assert payload["result"]["url"].startswith("http://localhost/api/outputs/") and payload["timings"]
    deadline = time.monotonic() + 10
    while (webhook := client.get(f"/api/jobs/{job_id}", headers=A).json()["webhook"])["state"] != "delivered":
        assert time.monotonic() < deadline, webhook
        time.sleep(0.02)
    assert [a["status_code"] for a in webhook["attempts"]] == [500, 200]


def test_webhook_urls_are_checked_before_the_job_is_accepted(client, owner):
    response = client.post("/api/jobs", headers=A, data={"webhook_url": "file:///etc/passwd"},
                           files={"file": ("p.png", unique_png(105), "image/png")})
    assert response.status_code == 422 and "http:// or https://" in response.json()["detail"]


def test_cancel_of_a_running_and_a_queued_job(client, owner, monkeypatch):
    monkeypatch.setattr("mlsharp.engines.batching.execute", hang_task)
    running = submit(client, A, 106)
    poll(client, running, A, until=("running",))
    queued = submit(client, A, 107)  # one worker, busy: this one waits
    assert client.get(f"/api/jobs/{queued}", headers=A).json()["state"] == "queued"
    restarts = owner.models.pool.restarts
    for job_id in (queued, running):
        response = client.delete(f"/api/jobs/{job_id}", headers=A)
        assert response.status_code == 200
    for job_id in (queued, running):
        status = poll(client, job_id, A)
        assert status["state"] == "cancelled" and status["result"] is None and status["error"] is None
        again = client.delete(f"/api/jobs/{job_id}", headers=A)  # idempotent
        assert again.status_code == 200 and again.json()["state"] == "cancelled"
    assert owner.models.pool.restarts == restarts + 1  # the running one was stopped, not left to finish
    monkeypatch.undo()
    assert poll(client, submit(client, A, 108), A)["state"] == "done"  # the engine carries on


def test_the_per_caller_queue_cap_is_429(client, monkeypatch):
    monkeypatch.setattr("mlsharp.engines.batching.execute", hang_task)
    jobs = [submit(client, B, 200 + i) for i in range(3)]
    response = client.post("/api/jobs", headers=B, files={"file": ("p.png", unique_png(210), "image/png")})
    assert response.status_code == 429 and "Too many photos waiting" in response.json()["detail"]
    other = submit(client, A, 211)  # another caller is not held back
    for job_id, headers in [*((j, B) for j in jobs), (other, A)]:
        client.delete(f"/api/jobs/{job_id}", headers=headers)
        poll(client, job_id, headers)
    monkeypatch.undo()
    assert submit(client, B, 212)  # cancelled jobs no longer count


def test_a_batch_belongs_to_its_caller_and_its_webhook_comes_once_at_the_end(client):
    files = [("files", (f"b{i}.png", unique_png(400 + i), "image/png")) for i in range(2)]
    with Receiver([]) as receiver:
        response = client.post("/api/batch", headers=A, files=files, data={"webhook_url": receiver.url})
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]
        [(_, headers, body)] = receiver.wait_for(1)
    assert verify(HOOK_SECRET, headers["X-MLSharp-Timestamp"], headers["X-MLSharp-Signature"], body)
    payload = json.loads(body)
    assert payload["event"] == "batch.finished" and payload["batch_id"] == batch_id
    assert payload["counts"]["done"] == 2 and payload["zip_url"].endswith(f"/api/batch/{batch_id}.zip")
    assert client.get(f"/api/batch/{batch_id}", headers=A).json()["counts"]["done"] == 2
    for response in (client.get(f"/api/batch/{batch_id}", headers=B), client.get(f"/api/batch/{batch_id}.zip", headers=B),
                     client.delete(f"/api/batch/{batch_id}", headers=carol())):
        assert response.status_code == 404 and "no batch" in response.json()["detail"]
    assert client.get(f"/api/batch/{batch_id}.zip", headers=A).status_code == 200


def test_a_batch_over_the_callers_cap_is_refused_whole(client):
    files = [("files", (f"c{i}.png", unique_png(410 + i), "image/png")) for i in range(4)]
    response = client.post("/api/batch", headers=B, files=files)
    assert response.status_code == 429 and "Too many photos waiting" in response.json()["detail"]


def _request(headers: dict[str, str]) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/cache",
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


def test_with_only_tokens_configured_nobody_is_anonymous(tmp_path):
    only_tokens = MLSharpApp(service_config(tmp_path, security={"jwt_secret": JWT_SECRET}))
    with pytest.raises(HTTPException) as info:
        deps.get_caller(_request({}), only_tokens)
    assert info.value.status_code == 401
    assert deps.get_caller(_request({"Authorization": f"Bearer {token('dave')}"}), only_tokens).id == "sub:dave"
