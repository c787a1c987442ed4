"""Request limits that must act before a handler sees the request: body size and request rate.

The body limit is an ASGI middleware because it has to count bytes *as they arrive*: a declared
``Content-Length`` over the limit is refused before reading anything, and a body that keeps coming
(chunked, or lying about its length) is cut off at the first chunk past the limit. It raises an
``HTTPException(413)`` from ``receive()``; FastAPI re-raises HTTPExceptions met while parsing the
body, so the client gets the usual JSON ``detail``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse


def _too_large_detail(limit: int, what: str = "Upload") -> str:
    return f"{what} too large: over the {limit / 1e6:g} MB limit"


class BodySizeLimitMiddleware:
    """``larger`` maps a path (matched at the end, so a sub-path prefix does not matter) to its own
    ``(limit, what it is called in the refusal)``: a batch upload carries many photos and has
    ``batch.max_total_mb``. Refusals say the limit in plain words, never the config key."""

    def __init__(self, app: Any, max_bytes: int, larger: dict[str, tuple[int, str]] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "").rstrip("/")
        limit, what = next((pair for suffix, pair in self.larger.items() if path.endswith(suffix)),
                           (self.max_bytes, "Upload"))
        await self._limited(scope, receive, send, limit, what)

    async def _limited(self, scope: dict, receive: Any, send: Any, limit: int, what: str) -> None:
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None and declared > limit:
            response = JSONResponse({"detail": _too_large_detail(limit, what)}, status_code=413,
                                    headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large_detail(limit, what))
            return message

        await self.app(scope, limited_receive, send)


class RateLimiter:
    """Per-client token bucket: ``per_minute`` requests a minute, bursts up to the same number.

    Remembers at most ``max_clients`` clients (least recently seen are forgotten), so a flood of
    distinct addresses cannot grow memory without bound.
    """

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def check(self, client: str, now: float | None = None) -> float | None:
        """``None`` if allowed (and counted), else the seconds until the next request would be."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                allowed = True
            else:
                self._buckets[client] = (tokens, now)
                allowed = False
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        if allowed:
            return None
        return (1.0 - tokens) / rate

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))
