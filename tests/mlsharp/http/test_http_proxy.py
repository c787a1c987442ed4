"""Behind a reverse proxy under /mlsharp/: the page, its assets, the API and the URLs in answers.

The proxy is a tiny ASGI app in front of the service that does what nginx's
``location /mlsharp/ { proxy_pass http://127.0.0.1:8000/; proxy_set_header X-Forwarded-Prefix /mlsharp; }``
does: strip the prefix, name it in a header, and refuse everything outside it.
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from app import MLSharpApp
from route_helpers import unique_png
from svc_helpers import service_config

PREFIX = "/mlsharp"


def sub_path_proxy(app, prefix: str = PREFIX):
    async def proxy(scope, receive, send):
        if scope["type"] == "lifespan":
            return await app(scope, receive, send)
        path = scope["path"]
        if not (path == prefix or path.startswith(prefix + "/")):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not behind the proxy"})
            return
        stripped = path[len(prefix):] or "/"
        headers = [*scope["headers"], (b"x-forwarded-prefix", prefix.encode())]
        await app({**scope, "path": stripped, "raw_path": stripped.encode(), "headers": headers}, receive, send)

    return proxy


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    owner = MLSharpApp(service_config(tmp_path_factory.mktemp("proxy")))
    with TestClient(sub_path_proxy(owner.app), base_url="http://localhost") as client:
        yield client


def test_the_page_and_every_asset_it_names_load_through_the_prefix(proxied):
    page = proxied.get(f"{PREFIX}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:href|src)="([^"#:]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert not asset.startswith("/"), f"{asset} would escape the sub-path"
        assert proxied.get(f"{PREFIX}/{asset}").status_code == 200, asset


def test_predict_answers_with_urls_under_the_prefix_that_download(proxied):
    body = proxied.post(f"{PREFIX}/api/predict", files={"file": ("p.png", unique_png(41), "image/png")}).json()
    assert body["url"] == f"{PREFIX}/api/outputs/{body['id']}.ply?name=p"
    assert body["viewer_url"].startswith(f"{PREFIX}/api/outputs/")
    assert all(url.startswith(f"{PREFIX}/api/outputs/") for url in body["downloads"].values())
    assert proxied.get(body["url"]).status_code == 200
    assert proxied.get(body["viewer_url"]).status_code == 200


def test_jobs_are_polled_and_downloaded_through_the_prefix(proxied):
    accepted = proxied.post(f"{PREFIX}/api/jobs", files={"file": ("p.png", unique_png(42), "image/png")}).json()
    assert accepted["status_url"] == f"{PREFIX}/api/jobs/{accepted['job_id']}"
    deadline = time.monotonic() + 60
    while (status := proxied.get(accepted["status_url"]).json())["state"] not in ("done", "error"):
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    assert status["state"] == "done", status
    assert status["result"]["url"].startswith(f"{PREFIX}/api/outputs/")
    assert proxied.get(status["result"]["url"]).status_code == 200


def test_api_docs_load_their_schema_and_assets_through_the_prefix(proxied):
    docs = proxied.get(f"{PREFIX}/docs")
    assert docs.status_code == 200
    names = re.findall(r'(?:href|src|data-openapi)="([^"#:]+)"', docs.text)
    assert any(name.endswith("openapi.json") for name in names)
    for name in names:  # relative to /mlsharp/docs, i.e. under /mlsharp/
        assert not name.startswith("/"), f"{name} would escape the sub-path"
        assert proxied.get(f"{PREFIX}/{name}").status_code == 200, name


def test_configured_root_path_without_a_header_and_bad_headers_ignored(tmp_path):
    owner = MLSharpApp(service_config(tmp_path, server={"root_path": "/tools/sharp"}))
    with TestClient(owner.app, base_url="http://localhost") as client:
        upload = {"file": ("p.png", unique_png(43), "image/png")}
        assert client.post("/api/predict", files=upload).json()["url"].startswith("/tools/sharp/api/outputs/")
        for bad in ("//evil.example", "javascript:alert(1)", "/a b"):
            body = client.post("/api/predict", files=upload, headers={"X-Forwarded-Prefix": bad}).json()
            assert body["url"].startswith("/tools/sharp/api/outputs/"), bad


def test_without_a_proxy_urls_are_unchanged(client):
    body = client.post("/api/predict", files={"file": ("p.png", unique_png(44), "image/png")}).json()
    assert body["url"] == f"/api/outputs/{body['id']}.ply?name=p"
