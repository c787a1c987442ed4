"""Serving under a sub-path behind a reverse proxy (``https://host/mlsharp/`` -> this service).

The proxy strips its prefix and names it in ``X-Forwarded-Prefix`` (or ``server.root_path`` names
it for proxies that cannot add headers). :class:`ForwardedPrefixMiddleware` puts it in the ASGI
``root_path``, which FastAPI's /docs already honour; :func:`rooted` puts it in front of the
``/api/...`` URLs our answers carry. The page itself uses only relative URLs.

The header is accepted from any client but only as a plain path (letters, digits, ``._~-``
segments): it changes nothing but the prefix of URLs in that client's own answers.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)*")
_OUR_URLS = ("/api/outputs/", "/api/jobs/", "/api/batch/")


def clean_prefix(value: str) -> str | None:
    """``value`` without a trailing slash if it is a plain path prefix, else None."""
    value = value.strip().rstrip("/")
    return value if _PREFIX.fullmatch(value) else None


class ForwardedPrefixMiddleware:
    def __init__(self, app: Any, root_path: str = "") -> None:
        self.app = app
        self.root_path = clean_prefix(root_path) or ""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            prefix = self.root_path
            for name, value in scope.get("headers", []):
                if name == b"x-forwarded-prefix":
                    prefix = clean_prefix(value.decode("latin-1")) or prefix
            if prefix and not scope.get("root_path"):
                # ASGI's path includes root_path (Starlette strips it to route); a proxy that
                # stripped the prefix sent the path without it.
                path = scope["path"]
                if not (path == prefix or path.startswith(prefix + "/")):
                    path = prefix + path
                scope = {**scope, "root_path": prefix, "path": path}
                if scope.get("raw_path") is not None:
                    scope["raw_path"] = path.encode("latin-1")
        await self.app(scope, receive, send)


def rooted(request: Request, payload: Any) -> Any:
    """``payload`` with every URL of ours (``/api/outputs/...``, ...) under the request's prefix."""
    prefix = request.scope.get("root_path", "").rstrip("/")
    return _prefix(payload, prefix) if prefix else payload


def _prefix(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return prefix + value if value.startswith(_OUR_URLS) else value
    if isinstance(value, dict):
        return {key: _prefix(item, prefix) for key, item in value.items()}
    if isinstance(value, list):
        return [_prefix(item, prefix) for item in value]
    return value
