"""The caller dependency: API-key identities and the authenticator hook other schemes plug into."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from starlette.requests import Request

from app import MLSharpApp
from mlsharp.http import deps
from svc_helpers import service_config

KEY = "k" * 20
OTHER = "o" * 20


def _request(headers: dict[str, str]) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/health",
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


@pytest.fixture
def keyed(tmp_path):
    return MLSharpApp(service_config(tmp_path, security={"api_keys": [KEY, OTHER]}))


def test_no_keys_configured_means_anonymous(tmp_path):
    owner = MLSharpApp(service_config(tmp_path))
    assert deps.api_key_caller(_request({"X-API-Key": "anything"}), owner) == deps.ANONYMOUS


def test_each_key_is_its_own_stable_caller_that_never_contains_the_key(keyed):
    with_key = deps.api_key_caller(_request({"X-API-Key": KEY}), keyed)
    again = deps.api_key_caller(_request({"Authorization": f"Bearer {KEY}"}), keyed)
    other = deps.api_key_caller(_request({"X-API-Key": OTHER}), keyed)
    assert with_key == again and with_key.kind == "api_key"
    assert other.id != with_key.id and KEY not in with_key.id
    with pytest.raises(HTTPException) as info:
        deps.api_key_caller(_request({"X-API-Key": "wrong" * 4}), keyed)
    assert info.value.status_code == 401


def test_an_inserted_authenticator_answers_before_the_api_key(keyed, monkeypatch):
    seen = []

    def token_scheme(request, owner):
        token = request.headers.get("x-test-token")
        if token is None:
            return None  # not this scheme's request: the API-key check decides
        seen.append(token)
        return deps.Caller("test-token", token)

    monkeypatch.setattr(deps, "AUTHENTICATORS", [token_scheme, *deps.AUTHENTICATORS])
    with TestClient(keyed.app) as client:
        assert client.get("/api/cache", headers={"X-Test-Token": "alice"}).status_code == 200
        assert client.get("/api/cache").status_code == 401
        assert client.get("/api/cache", headers={"X-API-Key": KEY}).status_code == 200
    assert seen == ["alice"]
