"""Rate limiter arithmetic and the body-size middleware on its own (no app)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.exceptions import HTTPException

from mlsharp.limits import BodySizeLimitMiddleware, RateLimiter


def test_rate_limiter_allows_a_burst_then_refills():
    limiter = RateLimiter(per_minute=3)
    assert [limiter.check("a", now=0.0) for _ in range(3)] == [None, None, None]
    wait = limiter.check("a", now=0.0)
    assert wait == pytest.approx(20.0)  # one token every 20 s
    assert limiter.check("b", now=0.0) is None  # clients are independent
    assert limiter.check("a", now=20.5) is None
    assert limiter.retry_after_header(0.2) == "1" and limiter.retry_after_header(19.1) == "20"


def test_rate_limiter_off_and_bounded_memory():
    assert RateLimiter(0).check("a") is None
    limiter = RateLimiter(per_minute=1, max_clients=10)
    for n in range(100):
        limiter.check(f"client-{n}", now=0.0)
    assert len(limiter._buckets) == 10


def run_app_with(body_chunks: list[bytes], headers: list[tuple[bytes, bytes]], limit: int):
    received: list[bytes] = []
    sent: list[dict] = []

    async def inner(scope, receive, send):
        while True:
            message = await receive()
            received.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [{"type": "http.request", "body": c, "more_body": i < len(body_chunks) - 1}
                for i, c in enumerate(body_chunks)]

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(BodySizeLimitMiddleware(inner, limit)(scope, receive, send))
    return received, sent


def test_declared_length_over_the_limit_is_refused_before_reading():
    received, sent = run_app_with([b"x" * 10], [(b"content-length", b"5000")], limit=100)
    assert received == []
    assert sent[0]["status"] == 413


def test_streamed_body_is_cut_at_the_first_chunk_past_the_limit():
    chunks = [b"x" * 60] * 10
    with pytest.raises(HTTPException) as info:
        run_app_with(chunks, [], limit=100)
    assert info.value.status_code == 413


def test_body_within_the_limit_passes_untouched():
    received, sent = run_app_with([b"x" * 50, b"y" * 50], [(b"content-length", b"100")], limit=100)
    assert b"".join(received) == b"x" * 50 + b"y" * 50
    assert sent[0]["status"] == 200
