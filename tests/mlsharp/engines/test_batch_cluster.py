"""Batches, cancel, ownership and webhooks on the distributed engine: redis-server, an API server and
a ``python app.py worker`` process (the local engine's twins are in tests/mlsharp/http).

5 photos with one bad -> 4 done + 1 error in the manifest and 4 readable PLYs in the zip; a job
cancelled while queued never runs; another caller's batch is 404; a webhook receiver on loopback
that fails the first delivery gets a correctly signed retry.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
import uuid
import zipfile

import boto3
import httpx
import pytest
import yaml
from plyfile import PlyData

from cluster_helpers import Cluster, free_port, photo_jpeg, write_config
from ext_servers import S3_ENV
from mlsharp.webhooks import verify
from webhook_receiver import Receiver

KEY_A, KEY_B = "a" * 20, "b" * 20
A, B = {"X-API-Key": KEY_A}, {"X-API-Key": KEY_B}
SECRET = "cluster-webhook-secret"


class KeyedCluster(Cluster):
    """The cluster helper, asking with caller A's key (every /api/* route needs one here)."""

    def get(self, path: str) -> dict:
        request = urllib.request.Request(self.url(path), headers=A)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture(params=["folder", "s3"])
def cluster(request, tmp_path, redis_url, redis_client):
    """A cluster whose results live in a folder, or in S3 (moto's server)."""
    env, storage, results = {"MLSHARP_WEBHOOK_SECRET": SECRET}, {}, str(tmp_path / "results")
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"scenes-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        results, storage = f"s3://{bucket}/results", {"s3_endpoint_url": endpoint}
        env.update(S3_ENV)
    port = free_port()
    path = write_config(tmp_path, redis_url, results, port, **storage)
    config = yaml.safe_load(path.read_text())
    config["security"] = {"api_keys": [KEY_A, KEY_B]}
    config["webhooks"] = {"allow_private": True, "backoff_s": 0.2}
    path.write_text(yaml.safe_dump(config))
    cluster = KeyedCluster(tmp_path, path, port, env)
    try:
        cluster.start_api()
        yield cluster
    finally:
        cluster.close()


def _get(cluster, path, headers):
    try:
        return httpx.get(cluster.url(path), headers=headers, timeout=10).json()
    except httpx.HTTPError:
        return None


def wait_state(cluster, path, headers, states, deadline_s=180.0) -> dict:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status = _get(cluster, path, headers)
        if status and status.get("state") in states:
            return status
        time.sleep(0.2)
    raise AssertionError(f"{path} never reached {states}")


def test_a_batch_with_a_bad_photo_a_webhook_and_another_caller(cluster):
    files = [("files", (f"photo-{i}.jpg", photo_jpeg(500 + i), "image/jpeg")) for i in range(4)]
    files.insert(1, ("files", ("broken.jpg", b"definitely not a photo", "image/jpeg")))
    with Receiver([500]) as receiver:
        response = httpx.post(cluster.url("/api/batch"), headers=A, files=files,
                              data={"webhook_url": receiver.url}, timeout=60)
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]
        cluster.start_worker()
        status = wait_state(cluster, f"/api/batch/{batch_id}", A, ("done",))
        requests = receiver.wait_for(2, timeout=60)
    assert status["counts"]["done"] == 4 and status["counts"]["error"] == 1
    _, headers, body = requests[1]
    assert verify(SECRET, headers["X-MLSharp-Timestamp"], headers["X-MLSharp-Signature"], body)
    assert json.loads(body)["counts"]["done"] == 4

    download = httpx.get(cluster.url(f"/api/batch/{batch_id}.zip"), headers=A, timeout=60)
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    plys = sorted(n for n in archive.namelist() if n.endswith(".ply"))
    assert plys == [f"photo-{i}.ply" for i in range(4)]
    for name in plys:
        assert PlyData.read(io.BytesIO(archive.read(name)))["vertex"].count > 0
    manifest = {p["photo"]: p for p in json.loads(archive.read("manifest.json"))["photos"]}
    assert manifest["broken.jpg"]["state"] == "error" and "not an image" in manifest["broken.jpg"]["error"]

    for path in (f"/api/batch/{batch_id}", f"/api/batch/{batch_id}.zip", f"/api/jobs/{status['items'][0]['job_id']}"):
        assert httpx.get(cluster.url(path), headers=B, timeout=10).status_code == 404


def test_a_job_cancelled_while_queued_never_runs(cluster, tmp_path):
    files = {"file": ("q.jpg", photo_jpeg(600), "image/jpeg")}
    job_id = httpx.post(cluster.url("/api/jobs"), headers=A, files=files, timeout=30).json()["job_id"]
    assert _get(cluster, f"/api/jobs/{job_id}", A)["state"] == "queued"  # no worker yet
    assert httpx.delete(cluster.url(f"/api/jobs/{job_id}"), headers=B, timeout=10).status_code == 404
    cancelled = httpx.delete(cluster.url(f"/api/jobs/{job_id}"), headers=A, timeout=10).json()
    assert cancelled["state"] == "cancelled"
    cluster.start_worker()
    cluster.wait_workers(1)
    other = httpx.post(cluster.url("/api/jobs"), headers=A, files={"file": ("o.jpg", photo_jpeg(601), "image/jpeg")},
                       timeout=30).json()["job_id"]
    assert wait_state(cluster, f"/api/jobs/{other}", A, ("done",))["state"] == "done"  # the queue moved on
    assert _get(cluster, f"/api/jobs/{job_id}", A)["state"] == "cancelled"
    assert not (tmp_path / "results" / f"{job_id}.ply").exists()  # (a folder store; S3 is checked by state)
    again = httpx.delete(cluster.url(f"/api/jobs/{job_id}"), headers=A, timeout=10)
    assert again.status_code == 200 and again.json()["state"] == "cancelled"  # idempotent
