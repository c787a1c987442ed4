"""Downloads: .ply and the converted .spz."""

from __future__ import annotations

from route_helpers import assert_error, unique_png, upload


def test_spz_is_converted_once_and_reused(client):
    body = upload(client, unique_png(6)).json()
    response = client.get(body["viewer_url"])
    assert response.status_code == 200 and len(response.content) > 0
    assert client.get(body["viewer_url"]).content == response.content


def test_download_routes_reject_bad_and_unknown_ids(client):
    assert_error(client.get("/api/outputs/" + "0" * 32 + ".ply"), 404, "no output")
    assert_error(client.get("/api/outputs/not-an-id.ply"), 404, "no output")
    assert client.get("/api/outputs/..%2F..%2Fapp.py.ply").status_code == 404
    assert_error(client.get("/api/outputs/" + "0" * 32 + ".spz"), 404, "no output")
