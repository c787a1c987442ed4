"""The batch API on the local engine: many photos or a zip -> one job each, status, cancel, streamed zip."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from plyfile import PlyData

from app import MLSharpApp
from route_helpers import hang_task, poll_until, unique_png
from svc_helpers import service_config, zip_of


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    config = service_config(root, batch={"max_files": 6, "max_total_mb": 2.0}, limits={"max_upload_mb": 0.5})
    with TestClient(MLSharpApp(config).app) as client:
        yield client


def wait_batch(client, batch_id: str) -> dict:
    return poll_until(client, f"/api/batch/{batch_id}", ("done", "cancelled"), deadline_s=60.0)


def read_zip(client, batch_id: str) -> zipfile.ZipFile:
    response = client.get(f"/api/batch/{batch_id}.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(response.content))


def check_plys(archive: zipfile.ZipFile, names: list[str], tmp_path) -> None:
    for name in names:
        path = tmp_path / name
        path.write_bytes(archive.read(name))
        assert PlyData.read(str(path))["vertex"].count > 0


def test_five_photos_one_bad_gives_four_scenes_and_an_error_in_the_manifest(client, tmp_path):
    files = [("files", (f"holiday-{i}.jpg", unique_png(300 + i), "image/png")) for i in range(4)]
    files.insert(2, ("files", ("broken.jpg", b"not a photo at all", "image/jpeg")))
    response = client.post("/api/batch", files=files)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["total"] == 5 and accepted["items"][2]["job_id"] is None
    assert "not an image" in accepted["items"][2]["error"]
    status = wait_batch(client, accepted["batch_id"])
    assert status["counts"] == {"queued": 0, "running": 0, "done": 4, "error": 1, "cancelled": 0}
    archive = read_zip(client, accepted["batch_id"])
    plys = sorted(n for n in archive.namelist() if n.endswith(".ply"))
    assert plys == [f"holiday-{i}.ply" for i in range(4)]
    check_plys(archive, plys, tmp_path)
    manifest = json.loads(archive.read("manifest.json"))
    by_photo = {entry["photo"]: entry for entry in manifest["photos"]}
    assert by_photo["broken.jpg"]["state"] == "error" and by_photo["broken.jpg"]["file"] is None
    assert "not an image" in by_photo["broken.jpg"]["error"]
    assert all(by_photo[f"holiday-{i}.jpg"]["num_gaussians"] > 0 for i in range(4))
    job = status["items"][0]
    assert client.get(f"/api/jobs/{job['job_id']}").json()["batch_id"] == accepted["batch_id"]


def test_a_zip_of_photos_with_repeated_names(client, tmp_path):
    upload = zip_of({"a/p.png": unique_png(310), "b/p.png": unique_png(311), "readme.txt": b"hi",
                     "__MACOSX/._p.png": b"x"})
    response = client.post("/api/batch", files=[("files", ("album.zip", upload, "application/zip")),
                                                ("files", ("P.png", unique_png(312), "image/png"))])
    assert response.status_code == 202, response.text
    assert response.json()["skipped"] == ["readme.txt"]
    status = wait_batch(client, response.json()["batch_id"])
    assert status["counts"]["done"] == 3
    archive = read_zip(client, status["batch_id"])
    assert sorted(archive.namelist()) == ["P-3.ply", "manifest.json", "p-2.ply", "p.ply"]
    check_plys(archive, ["p.ply", "p-2.ply", "P-3.ply"], tmp_path)


@pytest.mark.parametrize("files,status,fragment", [
    ([("files", (f"{i}.png", b"x", "image/png")) for i in range(7)], 413, "at most 6 photos"),
    ([("files", ("z.zip", zip_of({f"{i}.png": b"x" for i in range(7)}), "application/zip"))], 413, "more than"),
    ([("files", ("z.zip", zip_of({"big.png": bytes(3_000_000)}), "application/zip"))], 413, "Batch too large: the zip's photos unpack to more than the"),
    ([("files", ("z.zip", b"PK\x03\x04 broken", "application/zip"))], 400, "cannot be read"),
    ([("files", ("z.zip", zip_of({"notes.txt": b"x"}), "application/zip"))], 400, "no photos"),
])
def test_batches_over_the_limits_or_without_photos_are_refused_whole(client, files, status, fragment):
    response = client.post("/api/batch", files=files)
    assert response.status_code == status and fragment in response.json()["detail"], response.text


def test_the_request_body_limit_of_a_batch_is_its_own(client):
    big = [("files", (f"{i}.png", unique_png(320 + i, 300, 300), "image/png")) for i in range(3)]
    assert sum(len(f[1][1]) for f in big) > 0.5e6  # over limits.max_upload_mb, under batch.max_total_mb
    assert client.post("/api/batch", files=big).status_code == 202
    huge = [("files", ("h.png", bytes(2_100_000), "image/png"))]
    response = client.post("/api/batch", files=huge)
    assert response.status_code == 413 and "Batch too large: over the" in response.json()["detail"]


def test_cancel_a_batch(client, monkeypatch):
    monkeypatch.setattr("mlsharp.engines.batching.execute", hang_task)
    files = [("files", (f"c{i}.png", unique_png(330 + i), "image/png")) for i in range(3)]
    batch_id = client.post("/api/batch", files=files).json()["batch_id"]
    response = client.delete(f"/api/batch/{batch_id}")
    assert response.status_code == 200
    status = wait_batch(client, batch_id)
    assert status["state"] == "cancelled" and status["counts"]["cancelled"] == 3
    assert client.delete(f"/api/batch/{batch_id}").json()["counts"]["cancelled"] == 3  # idempotent
    monkeypatch.undo()
    manifest = json.loads(read_zip(client, batch_id).read("manifest.json"))
    assert [p["state"] for p in manifest["photos"]] == ["cancelled"] * 3


def test_unknown_batch_is_404(client):
    for response in (client.get("/api/batch/" + "0" * 32), client.get("/api/batch/nope.zip"),
                     client.delete("/api/batch/x")):
        assert response.status_code == 404 and "no batch" in response.json()["detail"]
