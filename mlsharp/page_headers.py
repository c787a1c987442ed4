"""Security headers: every response says ``nosniff`` and may not be framed; HTML pages also get a
Content-Security-Policy that allows only our own assets.

Why each piece of the policy:

* ``script-src 'self'`` plus the SHA-256 of each inline ``<script>`` of ``index.html`` (its import
  map), computed from the page as served at start-up so an edit of the page cannot silently break it;
  ``'wasm-unsafe-eval'`` because the vendored Spark viewer compiles WebAssembly.
* ``worker-src``/``connect-src`` allow ``blob:`` and ``data:``: Spark starts its sorting worker from
  a Blob URL and loads its WebAssembly and scenes from ``data:``/``blob:`` URLs.
* ``style-src 'unsafe-inline'``: the vendored UI libraries inject ``<style>`` elements.
* ``frame-ancestors 'none'`` (and ``X-Frame-Options: DENY`` for old browsers): no click-jacking.
* ``connect-src 'self'`` and no other host anywhere: the page talks to this server only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def inline_script_hashes(*pages: bytes) -> list[str]:
    """The CSP source of each inline script of ``pages`` (HTML as served: the import map is rewritten
    to the versioned vendor folder, mlsharp.http.static, so hashing the file on disk would not do)."""
    hashes = []
    for html in pages:
        for body in _INLINE_SCRIPT.findall(html):
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            hashes.append(f"'sha256-{digest}'")
    return sorted(set(hashes))


def content_security_policy(script_hashes: list[str]) -> str:
    return "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self' 'wasm-unsafe-eval'", *script_hashes]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeadersMiddleware:
    def __init__(self, app: Any, page: bytes) -> None:
        self.app = app
        policy = content_security_policy(inline_script_hashes(page))
        self.common = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                       (b"referrer-policy", b"same-origin")]
        self.html = [(b"content-security-policy", policy.encode())]
        self.other = [(b"content-security-policy", b"frame-ancestors 'none'")]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                extra = self.common + (self.html if content_type.startswith(b"text/html") else self.other)
                headers.extend((n, v) for n, v in extra if n not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
