"""API docs offline: /docs and /redoc load only vendored files, the OpenAPI document declares the
key and bearer schemes on /api/*, and HEAD is answered wherever GET is."""

from __future__ import annotations

import re

import pytest

from app import REPO_ROOT

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_our_own_files(client, page):
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assets = ASSET.findall(response.text)
    assert assets and all(not a.startswith(("http:", "https:", "//")) for a in assets), assets
    for asset in assets:
        assert (REPO_ROOT / asset).is_file(), asset
        assert client.get("/" + asset).status_code == 200
    assert "<script>" not in response.text, "no inline script: the CSP would block it"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_openapi_declares_how_to_authenticate(client):
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    predict = schema["paths"]["/api/predict"]["post"]
    assert {"ApiKey": []} in predict["security"] and {"Bearer": []} in predict["security"]
    assert "security" not in schema["paths"].get("/", {}).get("get", {})


@pytest.mark.parametrize("path", ["/api/health", "/", "/docs", "/openapi.json", "/static/js/api-docs.js"])
def test_head_is_answered_where_get_is(client, path):
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_head_of_a_post_only_route_is_405_like_get(client):
    assert client.head("/api/predict").status_code == client.get("/api/predict").status_code == 405
