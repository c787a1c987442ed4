"""One way for the ASGI middlewares to refuse a request themselves: a JSON ``{"detail": ...}``
answer (the same shape as every other error) that also closes the connection, because whatever
the client was still going to send (a body, the rest of a head) will not be read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


async def refuse(send: Any, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})
