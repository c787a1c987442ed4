"""The page, /api/health, /api/stats and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app import MLSharpApp
from route_helpers import assert_error, upload
from svc_helpers import block_photo, png_bytes, service_config


def test_index_serves_a_page(client):
    response = client.get("/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert "MLSharp" in response.text or "<html" in response.text.lower()


def test_health_says_preview_loudly(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert body["backend"] == "preview" and body["preview"] is True
    assert body["device"] == "cpu" and body["version"]
    assert "no checkpoint" in body["reason"] and "--download-model" in body["message"]
    assert [f["name"] for f in body["formats"]] == ["ply", "spz", "splat", "compressed.ply"]
    # What the page needs to word its settings and to refuse an oversized photo before uploading.
    assert body["input_size"] == 512 and body["max_pixels"] == 100_000_000


def test_openapi_documents_every_route_with_models(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    for path in ("/api/predict", "/api/jobs", "/api/jobs/{job_id}", "/api/outputs/{output_id}.{fmt}",
                 "/api/health", "/api/stats", "/api/cache",
                 "/api/cache/clear", "/metrics"):
        assert path in schema["paths"], path
    fmt = next(p for p in schema["paths"]["/api/outputs/{output_id}.{fmt}"]["get"]["parameters"]
               if p["name"] == "fmt")
    assert set(schema["components"]["schemas"][fmt["schema"]["$ref"].rsplit("/", 1)[1]]["enum"]) == {
        "ply", "spz", "splat", "compressed.ply"}
    predict_ok = schema["paths"]["/api/predict"]["post"]["responses"]["200"]
    assert predict_ok["content"]["application/json"]["schema"]["$ref"].endswith("/PredictResponse")
    fields = schema["components"]["schemas"]["PredictResponse"]["properties"]
    for name in ("id", "status", "backend", "preview", "num_gaussians", "f_px", "focal_source",
                 "image_width", "image_height", "input_size", "timings", "processing_time",
                 "cache_hit", "url", "viewer_url", "message"):
        assert name in fields


def test_stats_counts_requests_and_predictions(client, owner, photo_png):
    assert upload(client, photo_png).status_code == 200
    assert upload(client, b"not a photo").status_code == 400
    body = client.get("/api/stats").json()
    assert body["uptime_s"] > 0 and body["requests"] > 0
    assert body["predictions"] > 0 and body["predictions_failed"] > 0
    assert body["average_time_s"] > 0 and body["active_tasks"] == 0
    assert body["backend"] == "preview" and body["device"] == "cpu"
    assert body["worker_restarts"] == owner.models.pool.restarts and isinstance(body["gpu_memory"], list)


def test_predict_before_the_model_is_loaded_is_503(tmp_path):
    unstarted = TestClient(MLSharpApp(service_config(tmp_path)).app)  # lifespan not run
    response = upload(unstarted, png_bytes(block_photo()))
    assert_error(response, 503, "not loaded yet")
    assert "Retry-After" in response.headers
    assert unstarted.get("/api/health").json()["status"] == "starting"
