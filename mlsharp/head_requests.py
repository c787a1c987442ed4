"""``HEAD`` is answered wherever ``GET`` is: same status and headers, no body.

Why: FastAPI routes declared with ``@router.get`` answer HEAD with 405, so monitoring probes and
``curl -I`` saw a different service than GET does. The request reaches the app as a GET (one code
path, so the headers cannot drift apart) and the body is dropped on the way out.
"""

from __future__ import annotations

from typing import Any


class HeadAsGetMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: dict) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
