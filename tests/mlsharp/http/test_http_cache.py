"""/api/cache and /api/cache/clear."""

from __future__ import annotations

from route_helpers import assert_error, unique_png, upload


def test_cache_clear_removes_results(client):
    body = upload(client, unique_png(5)).json()
    cleared = client.post("/api/cache/clear").json()
    assert cleared["cleared"] >= 1 and cleared["stats"]["size"] == 0
    assert_error(client.get(body["url"]), 404, "no output")
    assert upload(client, unique_png(5)).json()["cache_hit"] is False
