"""Web sites cannot drive the local service: foreign Host names are refused (DNS rebinding),
cross-site state-changing requests are refused unless their origin is allowed, the page itself is
unaffected, and every response carries the security headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import MLSharpApp
from mlsharp.page_headers import inline_script_hashes
from mlsharp.site_guard import split_host
from svc_helpers import block_photo, png_bytes, service_config




@pytest.fixture(scope="module")
def owner(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard")
    return MLSharpApp(service_config(root, security={"cors_origins": ["https://studio.example"]}))


@pytest.fixture(scope="module")
def client(owner):
    with TestClient(owner.app) as c:
        yield c


def cached(client) -> int:
    client.post("/api/predict", files={"file": ("p.png", png_bytes(block_photo(64, 48, 8)), "image/png")})
    return client.get("/api/cache").json()["size"]


@pytest.mark.parametrize("value, expected", [
    ("localhost:8000", ("localhost", "8000")), ("[::1]:8000", ("::1", "8000")), ("::1", ("::1", "")),
    ("Example.ORG", ("example.org", "")), ("127.0.0.1", ("127.0.0.1", "")),
])
def test_host_header_parsing(value, expected):
    assert split_host(value) == expected


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "10.0.0.5"])
def test_a_foreign_host_name_is_400(client, host):
    response = client.get("/api/health", headers={"Host": host})
    assert response.status_code == 400
    assert "Host" in response.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"])
def test_our_own_names_are_answered(client, host):
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost.evil.example"])
def test_a_cross_site_post_is_403_and_changes_nothing(client, origin):
    before = cached(client)
    response = client.post("/api/cache/clear", headers={"Origin": origin})
    assert response.status_code == 403
    assert client.get("/api/cache").json()["size"] == before >= 1


def test_browser_fetch_metadata_without_origin_is_refused_too(client):
    response = client.post("/api/cache/clear", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


@pytest.mark.parametrize("origin", ["http://localhost", "https://studio.example"])
def test_same_origin_and_allowed_origins_may_post(client, origin):
    cached(client)
    response = client.post("/api/cache/clear", headers={"Origin": origin})
    assert response.status_code == 200 and response.json()["stats"]["size"] == 0


def test_the_page_is_unaffected_and_carries_its_policy(client):
    page = client.get("/", headers={"Origin": "https://evil.example"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http:" not in policy and "https:" not in policy, "no other host may serve the page anything"
    assert inline_script_hashes(page.content), "the served page has no import map"
    for digest in inline_script_hashes(page.content):  # the import map, as served, is allowed by hash
        assert digest in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"


def test_api_answers_and_refusals_carry_the_headers_too(client):
    for response in (client.get("/api/health"), client.get("/api/health", headers={"Host": "evil.example"})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_bound_to_every_interface_any_ip_is_fine_but_not_a_foreign_name(tmp_path):
    owner = MLSharpApp(service_config(tmp_path, server={"host": "0.0.0.0"},
                                      security={"api_keys": ["k" * 20]}))
    with TestClient(owner.app) as client:
        headers = {"X-API-Key": "k" * 20}
        assert client.get("/api/health", headers={**headers, "Host": "192.168.1.20:8000"}).status_code == 200
        assert client.get("/api/health", headers={**headers, "Host": "attacker.example"}).status_code == 400


def test_deployments_list_their_own_names(tmp_path):
    owner = MLSharpApp(service_config(tmp_path, security={"allowed_hosts": ["splats.example.org"]}))
    with TestClient(owner.app) as client:
        assert client.get("/api/health", headers={"Host": "splats.example.org"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "other.example.org"}).status_code == 400
