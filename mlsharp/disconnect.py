"""Stop waiting for a client that has gone away, so it stops holding an admission slot.

Why: ``POST /api/predict`` holds one of ``performance.max_concurrency`` slots while it waits, and
uvicorn does not cancel a handler whose client disconnected -- abandoned requests kept others
answered 503 until their work was done. :func:`unless_client_leaves` watches the connection (after
the body has been read, the next ASGI message is ``http.disconnect``) while the work runs; if the
client leaves first, the work is cancelled and :class:`ClientGone` raised. Cancelling the waiting
coroutine cancels what has not started (decoding, validation); a job already handed to the engine
runs on there and its result is kept for the cache, so a retry of the same photo is a hit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")
CLIENT_CLOSED = 499  # the status access logs use for "client closed the request" (nobody receives it)


class ClientGone(Exception):
    """The client disconnected before the answer was ready."""


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(receive: Any, work: Awaitable[T]) -> T:
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise ClientGone
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
