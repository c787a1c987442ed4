"""API keys (config and environment, header and bearer), metrics protection switch, CORS allow-list."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import MLSharpApp
from mlsharp.config import ConfigError, build_config
from mlsharp.security import API_KEYS_ENV, ApiKeys
from svc_helpers import block_photo, png_bytes, service_config

KEY = "k3y-for-tests-0123456789"
OTHER = "another-key-abcdefghijkl"


def client_for(tmp_path, **sections) -> TestClient:
    """An app without its lifespan: enough for the routes that do not predict."""
    return TestClient(MLSharpApp(service_config(tmp_path, **sections)).app)


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch):
    monkeypatch.delenv(API_KEYS_ENV, raising=False)


def test_without_keys_everything_is_open(tmp_path):
    client = client_for(tmp_path)
    assert client.get("/api/health").status_code == 200
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("path", ["/api/health", "/api/stats", "/api/cache", "/api/jobs/" + "0" * 32,
                                  "/api/outputs/" + "0" * 32 + ".ply", "/metrics"])
def test_with_keys_api_and_metrics_need_one(tmp_path, path):
    client = client_for(tmp_path, security={"api_keys": [KEY]})
    response = client.get(path)
    assert response.status_code == 401
    assert "API key" in response.json()["detail"] and response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(path, headers={"X-API-Key": "wrong-key-but-long-enough"}).status_code == 401
    assert client.get(path, headers={"X-API-Key": KEY}).status_code != 401
    assert client.get(path, headers={"Authorization": f"Bearer {KEY}"}).status_code != 401


def test_posts_are_refused_before_the_upload_is_used(tmp_path):
    client = client_for(tmp_path, security={"api_keys": [KEY]})
    response = client.post("/api/predict", files={"file": ("p.png", b"x", "image/png")})
    assert response.status_code == 401
    assert client.post("/api/cache/clear").status_code == 401


def test_page_and_docs_stay_open(tmp_path):
    client = client_for(tmp_path, security={"api_keys": [KEY]})
    assert client.get("/").status_code == 200
    assert client.get("/docs").status_code == 200


def test_metrics_protection_can_be_switched_off(tmp_path):
    client = client_for(tmp_path, security={"api_keys": [KEY], "protect_metrics": False})
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/health").status_code == 401


def test_keys_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(API_KEYS_ENV, f" {OTHER} ,")
    client = client_for(tmp_path, security={"api_keys": [KEY]})
    assert client.get("/api/health", headers={"X-API-Key": OTHER}).status_code == 200
    assert client.get("/api/health", headers={"X-API-Key": KEY}).status_code == 200


def test_short_environment_key_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv(API_KEYS_ENV, "short")
    with pytest.raises(ConfigError, match=API_KEYS_ENV):
        ApiKeys.from_config(service_config(tmp_path))


def test_config_errors_never_echo_a_key():
    with pytest.raises(ConfigError) as info:
        build_config({"security": {"api_keys": ["tiny-secret"]}})
    assert "tiny-secret" not in str(info.value) and "security.api_keys" in str(info.value)


def test_key_comparison():
    keys = ApiKeys([KEY, OTHER])
    assert keys.enabled and len(keys) == 2
    assert keys.accepts(KEY) and keys.accepts(OTHER)
    assert not keys.accepts(None) and not keys.accepts("") and not keys.accepts(KEY[:-1])
    assert ApiKeys().accepts(None)


def test_cors_is_off_by_default_and_follows_the_allow_list(tmp_path):
    origin = "http://viewer.example"
    closed = client_for(tmp_path)
    assert "access-control-allow-origin" not in closed.get("/api/health", headers={"Origin": origin}).headers
    opened = client_for(tmp_path, security={"cors_origins": [origin]})
    allowed = opened.get("/api/health", headers={"Origin": origin})
    assert allowed.headers["access-control-allow-origin"] == origin
    other = opened.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = opened.options("/api/predict", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-API-Key"})
    assert preflight.status_code == 200


def test_a_keyed_service_predicts_for_a_keyed_client(tmp_path):
    with TestClient(MLSharpApp(service_config(tmp_path, security={"api_keys": [KEY]})).app) as client:
        data = png_bytes(block_photo())
        response = client.post("/api/predict", files={"file": ("p.png", data, "image/png")},
                               headers={"X-API-Key": KEY})
        assert response.status_code == 200
        url = response.json()["url"]
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
