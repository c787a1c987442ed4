"""How many bytes the page costs over the wire: index.html and everything it loads, as served.

Runs the app in-process (preview backend, a throw-away cache folder), follows the page's
stylesheets and scripts, its import map and every static ``import`` of the JavaScript it loads,
and sums the bytes each answer carries with and without ``Accept-Encoding: gzip`` (and brotli
when installed), then what a revisit costs (304s for our files; the versioned vendor files are
not asked for at all while cached). ``python tools/page_weight.py``
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from urllib.parse import urljoin

REPO = Path(__file__).resolve().parents[1]

STATIC_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""",
                           re.M)


def page_urls(client) -> list[str]:
    """Every URL the page loads, in the order a browser discovers them."""
    base = "http://localhost/"
    html = client.get("/", headers={"Accept-Encoding": "identity"}).text
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1))["imports"]
    todo = [urljoin(base, ref) for ref in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
            if not ref.startswith("data:")]
    seen: list[str] = [base]
    while todo:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.append(url)
        if not url.endswith((".js", ".mjs")):
            continue
        text = client.get(url, headers={"Accept-Encoding": "identity"}).text
        for match in STATIC_IMPORT.finditer(text):
            spec = match.group(1) or match.group(2)
            if spec.startswith((".", "/")):
                todo.append(urljoin(url, spec))
            elif spec in imports:
                todo.append(urljoin(base, imports[spec]))
            else:
                prefix = max((k for k in imports if k.endswith("/") and spec.startswith(k)), key=len)
                todo.append(urljoin(base, imports[prefix] + spec[len(prefix):]))
    return seen


def wire_bytes(client, url: str, headers: dict) -> tuple[int, dict]:
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code in (200, 304), (url, response.status_code)
        return sum(len(chunk) for chunk in response.iter_raw()), dict(response.headers)


def main() -> None:
    from fastapi.testclient import TestClient
    from loguru import logger

    logger.remove()  # the figures only

    from app import MLSharpApp
    from mlsharp.config import build_config
    from mlsharp.http.static import IMMUTABLE, brotli

    root = Path(tempfile.mkdtemp(prefix="page-weight-"))  # throw-away folders, the preview backend
    config, _ = build_config({"browser": {"open": False}, "logging": {"file": False},
                              "cache": {"dir": str(root / "cache")},
                              "model": {"temp_dir": str(root / "tmp"), "checkpoint": str(root / "absent.pt")}})
    owner = MLSharpApp(config)
    with TestClient(owner.app, base_url="http://localhost") as client:
        urls = page_urls(client)
        encodings = {"uncompressed": "identity", "gzip": "gzip"} | ({"brotli": "br, gzip"} if brotli else {})
        totals = {}
        for label, accept in encodings.items():
            totals[label] = sum(wire_bytes(client, url, {"Accept-Encoding": accept})[0] for url in urls)
        revisit = revalidated = 0
        for url in urls:  # a second visit: immutable files stay in the browser, the rest revalidates
            _, headers = wire_bytes(client, url, {"Accept-Encoding": "gzip"})
            if headers["cache-control"] != IMMUTABLE:
                size, _ = wire_bytes(client, url, {"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})
                revisit += size
                revalidated += 1
    print(f"{len(urls)} files (index.html and everything it loads)")
    for label, total in totals.items():
        print(f"  {label:>12}: {total:>10,} bytes")
    print(f"  {'revisit':>12}: {revisit:>10,} bytes of bodies: {revalidated} revalidations (304 unless changed), "
          f"{len(urls) - revalidated} versioned vendor files not asked for")


if __name__ == "__main__":
    main()
