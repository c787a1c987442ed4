"""The page's files over HTTP: compressed for clients that accept it, cached by kind, revalidated.

Every request here names its ``Accept-Encoding`` (httpx would otherwise send its own), and the
bodies are read as sent (``iter_raw``) so a compressed answer is checked as it travels.
"""

from __future__ import annotations

import gzip
import re

import pytest

from app import STATIC_DIR
from mlsharp.http.static import IMMUTABLE, REVALIDATE, Asset, accepted_encodings, vendor_hash

SPARK = "spark/dist/spark.module.js"
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


def raw(response) -> bytes:
    return b"".join(response.iter_raw())


def get_raw(client, url: str, headers: dict):
    with client.stream("GET", url, headers=headers) as response:
        return response, raw(response)


def versioned_prefix(client) -> str:
    page = client.get("/", headers=IDENTITY).text
    match = re.search(r'"\./static/(vendor-[0-9a-f]{12})/three/build/three\.module\.js"', page)
    assert match, "the page's import map does not name the versioned vendor folder"
    return match.group(1)


def test_the_versioned_folder_is_the_hash_of_the_vendored_files(client):
    assert versioned_prefix(client) == f"vendor-{vendor_hash(STATIC_DIR / 'vendor')}"
    page = client.get("/", headers=IDENTITY).text
    assert "./static/vendor/" not in page, "every vendored URL of the page is versioned"


@pytest.mark.parametrize("url", ["/static/js/main.js", "/static/css/app.css", f"/static/vendor/{SPARK}"])
def test_gzip_accepting_clients_get_a_gzip_body_that_is_the_file(client, url):
    response, body = get_raw(client, url, GZIP)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) == len(body)
    on_disk = (STATIC_DIR / url.removeprefix("/static/")).read_bytes()
    assert gzip.decompress(body) == on_disk
    assert len(body) < len(on_disk) / 2, "JavaScript and CSS compress well"


def test_clients_that_do_not_accept_gzip_get_the_file_as_is(client):
    for headers in (IDENTITY, {"Accept-Encoding": "gzip;q=0, deflate"}, {"Accept-Encoding": ""}):
        response, body = get_raw(client, "/static/js/main.js", headers)
        assert response.status_code == 200 and "content-encoding" not in response.headers, headers
        assert response.headers["vary"] == "Accept-Encoding"  # caches must still tell the forms apart
        assert body == (STATIC_DIR / "js" / "main.js").read_bytes()
        assert response.headers["content-type"].startswith("text/javascript")


def test_the_page_itself_is_compressed_and_revalidated(client):
    response, body = get_raw(client, "/", GZIP)
    assert response.headers["content-encoding"] == "gzip"
    assert b'<script type="importmap">' in gzip.decompress(body)
    assert response.headers["cache-control"] == REVALIDATE
    assert "content-security-policy" in response.headers  # the page's headers stay
    again = client.get("/", headers={**GZIP, "If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == response.headers["etag"]


def test_versioned_vendor_files_are_immutable_and_plain_paths_revalidate(client):
    prefix = versioned_prefix(client)
    versioned, body = get_raw(client, f"/static/{prefix}/{SPARK}", GZIP)
    assert versioned.status_code == 200 and versioned.headers["cache-control"] == IMMUTABLE
    assert gzip.decompress(body) == (STATIC_DIR / "vendor" / SPARK).read_bytes()
    # three.module.js imports ./three.core.js: the relative import stays in the versioned folder
    core = client.get(f"/static/{prefix}/three/build/three.core.js", headers=IDENTITY)
    assert core.status_code == 200 and core.headers["cache-control"] == IMMUTABLE
    plain = client.get(f"/static/vendor/{SPARK}", headers=IDENTITY)  # the one-file export's path
    assert plain.status_code == 200 and plain.headers["cache-control"] == REVALIDATE
    stale = client.get(f"/static/vendor-000000000000/{SPARK}", headers=IDENTITY)  # a page from before an upgrade
    assert stale.status_code == 200 and stale.headers["cache-control"] == REVALIDATE


@pytest.mark.parametrize("url", ["/static/js/main.js", "/static/css/app.css", "/static/index.html"])
def test_our_files_are_no_cache_with_an_etag_and_304_while_it_holds(client, url):
    first = client.get(url, headers=GZIP)
    assert first.status_code == 200 and first.headers["cache-control"] == REVALIDATE
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{20}(-gzip)?"', etag)
    for headers in ({**GZIP, "If-None-Match": etag}, {**IDENTITY, "If-None-Match": etag},
                    {**GZIP, "If-None-Match": f'"other", W/{etag}'}):
        again = client.get(url, headers=headers)
        assert again.status_code == 304 and again.content == b"", headers
        assert again.headers["cache-control"] == REVALIDATE
    changed = client.get(url, headers={**GZIP, "If-None-Match": '"0123456789abcdef0123"'})
    assert changed.status_code == 200 and changed.content == (STATIC_DIR / url.removeprefix("/static/")).read_bytes()


def test_head_answers_the_headers_without_the_body(client):
    response = client.head("/static/js/main.js", headers=GZIP)
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) > 0 and response.content == b""


@pytest.mark.parametrize("url", ["/static/missing.js", "/static/../app.py", "/static/%2e%2e/app.py",
                                 "/static/js/..%2f..%2fapp.py", "/static/"])
def test_nothing_outside_static_and_nothing_missing(client, url):
    assert client.get(url, headers=IDENTITY).status_code == 404


def test_only_reads_are_allowed(client):
    assert client.post("/static/js/main.js", headers={"Origin": "http://localhost"}).status_code == 405


def test_a_file_edited_on_disk_is_served_fresh(tmp_path):
    """The compressed forms are built once per version of the file, not once per process."""
    from mlsharp.http.static import StaticAssets

    (tmp_path / "js").mkdir()
    script = tmp_path / "js" / "a.js"
    script.write_text("console.log('one');\n" * 100)
    assets = StaticAssets(tmp_path)
    first, _ = assets.lookup("/js/a.js")
    assert first is assets.lookup("/js/a.js")[0], "a second request reuses the built forms"
    script.write_text("console.log('two');\n" * 120)
    second, _ = assets.lookup("/js/a.js")
    assert second.tag != first.tag and gzip.decompress(second.forms["gzip"]) == script.read_bytes()


def test_accept_encoding_is_parsed_with_qualities():
    assert "gzip" in accepted_encodings("gzip, deflate, br")
    assert "gzip" in accepted_encodings("*")
    assert "gzip" not in accepted_encodings("gzip;q=0")
    assert "gzip" not in accepted_encodings("*;q=0")
    assert "gzip" in accepted_encodings("GZIP;q=0.5, *;q=0")
    assert accepted_encodings("identity") == []


def test_small_and_binary_files_are_not_compressed():
    assert set(Asset.build(b"x" * 100, "text/javascript").forms) == {""}
    noise = bytes(range(256)) * 40
    assert set(Asset.build(noise, "image/png").forms) == {""}


def test_brotli_is_used_when_installed():
    brotli = pytest.importorskip("brotli")
    body = b"const a = 1;\n" * 500
    asset = Asset.build(body, "text/javascript")
    assert brotli.decompress(asset.forms["br"]) == body
    assert asset.choose("gzip, br") == "br" and asset.choose("gzip") == "gzip"
