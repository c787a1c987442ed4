"""Prometheus exposure: every metric the issue names, route-template labels, GPU gauges filled on scrape."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from app import MLSharpApp
from metrics import MetricsManager
from mlsharp.config import build_config

METRIC_NAMES = (
    "http_requests_total",
    "http_request_duration_seconds",
    "predict_requests_total",
    "predict_duration_seconds",
    "predict_stage_duration_seconds",
    "gpu_memory_used_mb",
    "gpu_utilization_percent",
    "gpu_info",
    "active_tasks",
    "app_info",
    "input_size_info",
    "cache_hits_total",
    "cache_misses_total",
)


class FakeGpu:
    device = "cuda:0"

    def __init__(self) -> None:
        self.used = 100.0

    def info(self) -> dict:
        return {"vendor": "nvidia", "name": "Fake GPU", "device": "cuda:0", "memory_total_mb": 1000,
                "compute_capability": "8.0", "amp_dtype": "bfloat16"}

    def memory_readings(self) -> list[dict]:
        self.used += 1
        return [{"device_id": 0, "used_mb": self.used, "utilization_percent": 42.0}]


def config_in(root, **extra):
    base = {
        "browser": {"open": False},
        "logging": {"file": False},
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), "checkpoint": str(root / "none.pt")},
        "inference": {"input_size": [512, 512]},
    }
    base.update(extra)
    return build_config(base)[0]


def photo() -> bytes:
    rgb = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        out.setdefault(family.name, []).extend(family.samples)
    return out


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """Scrape after one computed prediction, one cache hit, one bad upload and one unknown path."""
    owner = MLSharpApp(config_in(tmp_path_factory.mktemp("metrics")))
    with TestClient(owner.app) as client:
        data = photo()
        first = client.post("/api/predict", files={"file": ("p.png", data, "image/png")}).json()
        client.post("/api/predict", files={"file": ("p.png", data, "image/png")})
        client.post("/api/predict", files={"file": ("p.png", b"junk", "image/png")})
        client.get(first["url"])
        client.get("/no/such/page/12345")
        response = client.get("/metrics")
    return response


def test_every_metric_is_exposed_after_a_predict(scraped):
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    for name in METRIC_NAMES:
        assert f"# TYPE {name} " in scraped.text or f"# HELP {name} " in scraped.text, name


def test_prediction_metrics_have_the_right_values(scraped):
    found = samples(scraped.text)
    outcomes = {s.labels["status"]: s.value for s in found["predict_requests"] if s.name.endswith("_total")}
    assert outcomes == {"success": 2.0, "bad_request": 1.0}
    stages = {s.labels["stage"] for s in found["predict_stage_duration_seconds"]
              if s.name.endswith("_count")}
    assert stages == {"image_load", "inference", "ply_save", "total"}
    totals = [s.value for s in found["predict_duration_seconds"] if s.name.endswith("_count")]
    assert totals == [2.0]
    hits = [s.value for s in found["cache_hits"] if s.name == "cache_hits_total"]
    misses = [s.value for s in found["cache_misses"] if s.name == "cache_misses_total"]
    assert hits == [1.0] and misses == [1.0]
    assert [s.value for s in found["active_tasks"]] == [0.0]
    (info,) = [s for s in found["app_info"] if s.name == "app_info"]
    assert info.labels["backend"] == "preview" and info.labels["version"]
    (size,) = [s for s in found["input_size_info"] if s.name == "input_size_info"]
    assert size.labels == {"width": "512", "height": "512"}


def test_http_endpoint_label_is_the_route_template(scraped):
    found = samples(scraped.text)
    endpoints = {s.labels["endpoint"] for s in found["http_requests"] if s.name == "http_requests_total"}
    assert "/api/predict" in endpoints
    assert "/api/outputs/{output_id}.{fmt}" in endpoints
    assert "unmatched" in endpoints
    assert not any("12345" in e or len(e) > 40 for e in endpoints)


def test_gpu_gauges_are_read_at_scrape_time():
    gpu = FakeGpu()
    manager = MetricsManager(gpu_manager=gpu)
    first = samples(manager.generate().decode())
    second = samples(manager.generate().decode())
    used = lambda found: [s.value for s in found["gpu_memory_used_mb"]]  # noqa: E731
    assert used(first) == [101.0] and used(second) == [102.0]
    assert [s.value for s in second["gpu_utilization_percent"]] == [42.0]
    (info,) = second["gpu_info"]
    assert info.labels == {"device_id": "0", "name": "Fake GPU", "vendor": "nvidia"}


def test_gpu_gauges_can_be_switched_off():
    manager = MetricsManager(gpu_manager=FakeGpu(), enable_gpu=False)
    assert samples(manager.generate().decode()).get("gpu_memory_used_mb", []) == []


def test_metrics_path_comes_from_the_config(tmp_path):
    owner = MLSharpApp(config_in(tmp_path, monitoring={"metrics_path": "/prom"}))
    client = TestClient(owner.app)  # no lifespan needed to scrape
    assert client.get("/prom").status_code == 200
    assert client.get("/metrics").status_code == 404


def test_metrics_can_be_disabled(tmp_path):
    owner = MLSharpApp(config_in(tmp_path, monitoring={"enabled": False}))
    assert TestClient(owner.app).get("/metrics").status_code == 404


def test_each_app_has_its_own_registry():
    a, b = MetricsManager(), MetricsManager()
    a.cache_lookup(True)
    assert "cache_hits_total 1.0" in a.generate().decode()
    assert "cache_hits_total 0.0" in b.generate().decode()
