"""Downloads are saved under the photo's name, per request: the answer's URLs carry it, the header says it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from route_helpers import poll_job, unique_png, upload, with_query


def disposition(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.headers["content-disposition"]


def test_an_ascii_photo_name_names_every_download(client):
    body = upload(client, unique_png(301), name="shapes.png").json()
    assert body["download_name"] == "shapes"
    assert parse_qs(urlsplit(body["url"]).query) == {"name": ["shapes"]}
    assert disposition(client, body["url"]) == 'attachment; filename="shapes.ply"'
    for fmt, url in body["downloads"].items():
        assert disposition(client, url) == f'attachment; filename="shapes.{fmt}"'
    assert disposition(client, body["depth_url"]) == 'attachment; filename="shapes-depth.png"'
    assert disposition(client, body["depth_preview_url"]) == 'attachment; filename="shapes-depth-preview.png"'
    reduced = client.get(with_query(body["url"], max_gaussians=100))
    assert reduced.headers["content-disposition"] == 'attachment; filename="shapes-100.ply"'


def test_a_chinese_photo_name_is_sent_rfc_5987_with_an_ascii_fallback(client):
    body = upload(client, unique_png(302), name="中文.jpg").json()
    assert body["download_name"] == "中文"
    header = disposition(client, body["url"])
    assert header == f"attachment; filename=\"{body['id']}.ply\"; filename*=UTF-8''%E4%B8%AD%E6%96%87.ply"


def test_path_parts_and_quotes_never_reach_the_header(client):
    body = upload(client, unique_png(303), name='../../etc/"pass"wd.png').json()
    assert body["download_name"] == "passwd"
    assert disposition(client, body["url"]) == 'attachment; filename="passwd.ply"'
    # a hand-made URL is cleaned the same way: no separator, no quote, no leading dot
    crafted = client.get(f"/api/outputs/{body['id']}.ply", params={"name": '../..\\x"\r\n.ply'})
    assert crafted.headers["content-disposition"] == 'attachment; filename="x.ply.ply"'


def test_without_a_name_the_download_is_named_after_the_id(client):
    body = upload(client, unique_png(304), name="....").json()
    assert body["download_name"] is None and "?" not in body["url"]
    assert disposition(client, body["url"]) == f'attachment; filename="{body["id"]}.ply"'
    assert disposition(client, f"/api/outputs/{body['id']}.spz") == f'attachment; filename="{body["id"]}.spz"'


def test_the_same_photo_under_another_name_gets_that_name(client):
    """The cache entry is shared (one id), the name is not: it is the request's."""
    photo = unique_png(305)
    first = upload(client, photo, name="first.png").json()
    second = upload(client, photo, name="second.png").json()
    assert second["cache_hit"] and second["id"] == first["id"]
    assert second["download_name"] == "second"
    assert disposition(client, second["url"]) == 'attachment; filename="second.ply"'
    assert disposition(client, first["url"]) == 'attachment; filename="first.ply"'


def test_jobs_carry_the_name_too_even_when_answered_from_the_cache(client):
    photo = unique_png(306)
    for name in ("beach.heic", "strand.heic"):  # the second one is a repeat: done at once
        accepted = client.post("/api/jobs", files={"file": (name, photo, "image/png")}).json()
        result = poll_job(client, accepted["job_id"])["result"]
        stem = name.split(".")[0]
        assert result["download_name"] == stem
        assert disposition(client, result["url"]) == f'attachment; filename="{stem}.ply"'
