"""Density as a request option: ``max_gaussians`` on /api/predict and /api/jobs (else the server's
``inference.max_gaussians``) reduces the scene the answer's URLs serve; the full one is cached."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from app import MLSharpApp
from route_helpers import assert_error, poll_job, unique_png, upload
from svc_helpers import service_config

SPLAT_BYTES = 32  # per Gaussian


def count_ply(client, url: str) -> int:
    from sharpnet.io.ply import read_ply

    response = client.get(url)
    assert response.status_code == 200, response.text
    return len(read_ply(response.content)[0])


def test_predict_with_max_gaussians_answers_urls_of_the_reduced_scene(client):
    photo = unique_png(401)
    body = upload(client, photo, max_gaussians=100).json()
    assert body["max_gaussians"] == 100 and body["num_gaussians"] == 100
    assert parse_qs(urlsplit(body["url"]).query)["max_gaussians"] == ["100"]
    assert count_ply(client, body["url"]) == 100
    assert len(client.get(body["downloads"]["splat"]).content) == 100 * SPLAT_BYTES
    assert "max_gaussians=100" in body["viewer_url"]
    # the full scene is what the cache holds: the same photo without the field gets all of it
    full = upload(client, photo).json()
    assert full["cache_hit"] and full["id"] == body["id"]
    assert full["max_gaussians"] is None and full["num_gaussians"] > 100
    assert count_ply(client, full["url"]) == full["num_gaussians"]


def test_a_job_with_max_gaussians_finishes_with_reduced_urls(client):
    accepted = client.post("/api/jobs", files={"file": ("p.png", unique_png(402), "image/png")},
                           data={"max_gaussians": "50"})
    assert accepted.status_code == 202, accepted.text
    result = poll_job(client, accepted.json()["job_id"])["result"]
    assert result["max_gaussians"] == 50 and result["num_gaussians"] == 50
    assert len(client.get(result["downloads"]["splat"]).content) == 50 * SPLAT_BYTES


def test_more_than_the_scene_has_keeps_every_gaussian(client):
    body = upload(client, unique_png(403), max_gaussians=10**8).json()
    assert body["max_gaussians"] == 10**8
    assert count_ply(client, body["url"]) == body["num_gaussians"] > 100


def test_bad_values_are_a_one_line_refusal(client):
    photo = unique_png(404)
    for value in ("0", "-5", str(10**8 + 1)):
        assert_error(upload(client, photo, max_gaussians=value), 422, "Gaussian count must be between 1 and 100,000,000")
        refused = client.post("/api/jobs", files={"file": ("p.png", photo, "image/png")},
                              data={"max_gaussians": value})
        assert_error(refused, 422, "between 1 and 100,000,000")
    assert_error(upload(client, photo, max_gaussians="lots"), 422, "Gaussian count must be a whole number, got “lots”")
    assert upload(client, photo, max_gaussians="").json()["max_gaussians"] is None  # an empty field is no field


def test_the_server_default_applies_unless_the_request_names_its_own(tmp_path):
    owner = MLSharpApp(service_config(tmp_path, inference={"max_gaussians": 200}))
    with TestClient(owner.app) as client:
        assert client.get("/api/health").json()["max_gaussians"] == 200
        photo = unique_png(405)
        body = upload(client, photo).json()
        assert body["max_gaussians"] == 200 and count_ply(client, body["url"]) == 200
        own = upload(client, photo, max_gaussians=10**8).json()
        assert own["cache_hit"] and own["max_gaussians"] == 10**8
        assert count_ply(client, own["url"]) == own["num_gaussians"] > 200
