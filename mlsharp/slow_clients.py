"""Slow or stalled request bodies are cut off (408), and requests with too many header lines are
refused (431), before a handler spends anything on them.

Why here and not in uvicorn: uvicorn has no body read timeout at all -- a client that sends its
headers and then a byte a minute holds a connection, a form parser and (for an upload) memory for
as long as it likes. Two rules while a body is still incomplete:

* no new bytes for ``gap_timeout`` seconds -> 408;
* after ``grace`` seconds, an average below ``min_rate`` bytes per second -> 408 (a trickle that
  never quite stalls).

The 408 is raised from ``receive()`` as an ``HTTPException`` (FastAPI passes those through while
parsing a body) with ``Connection: close``. Once the body is complete, ``receive()`` is left
alone: waiting for a disconnect must not time out. The request head's own size and arrival time
are bounded earlier, by :mod:`mlsharp.http_protocol`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from mlsharp.asgi_reply import refuse


@dataclass(frozen=True)
class BodyPace:
    gap_timeout: float = 20.0
    min_rate: float = 2048.0
    grace: float = 30.0
    max_headers: int = 100


def _too_slow(detail: str) -> HTTPException:
    return HTTPException(408, detail, headers={"Connection": "close"})


class SlowClientMiddleware:
    def __init__(self, app: Any, pace: BodyPace = BodyPace()) -> None:
        self.app = app
        self.pace = pace

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pace = self.pace
        if len(scope.get("headers", ())) > pace.max_headers:
            await refuse(send, 431, f"more than {pace.max_headers} request header lines")
            return
        started = time.monotonic()
        state = {"received": 0, "complete": False}

        async def paced_receive() -> dict:
            if state["complete"]:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), pace.gap_timeout)
            except asyncio.TimeoutError:
                raise _too_slow(f"the request body stalled for {pace.gap_timeout:g} s") from None
            if message["type"] != "http.request":
                return message
            state["received"] += len(message.get("body", b""))
            state["complete"] = not message.get("more_body", False)
            elapsed = time.monotonic() - started
            if not state["complete"] and elapsed > pace.grace and state["received"] / elapsed < pace.min_rate:
                raise _too_slow(f"the request body is arriving slower than {pace.min_rate / 1024:g} KB/s")
            return message

        await self.app(scope, paced_receive, send)
