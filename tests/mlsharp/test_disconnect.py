"""A client that goes away stops holding its admission slot: the work that had not started is
cancelled; an answer that is ready first is returned as usual."""

from __future__ import annotations

import asyncio

import pytest

from mlsharp.disconnect import ClientGone, unless_client_leaves


def client(leaves: asyncio.Event):
    async def receive() -> dict:
        await leaves.wait()
        return {"type": "http.disconnect"}
    return receive


def test_a_client_that_leaves_cancels_the_waiting_work():
    async def scenario() -> bool:
        leaves, cancelled = asyncio.Event(), asyncio.Event()

        async def work() -> str:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return "never"

        asyncio.get_running_loop().call_later(0.05, leaves.set)
        with pytest.raises(ClientGone):
            await unless_client_leaves(client(leaves), work())
        return cancelled.is_set()

    assert asyncio.run(asyncio.wait_for(scenario(), 30))


def test_an_answer_ready_first_is_returned():
    async def scenario() -> str:
        async def work() -> str:
            await asyncio.sleep(0)
            return "scene"

        return await unless_client_leaves(client(asyncio.Event()), work())

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == "scene"


def test_the_slot_is_free_again_after_a_client_left(tmp_path):
    """Through the real route: admitted, the client leaves mid-wait, active_tasks is back to 0."""
    from fastapi.testclient import TestClient

    from app import MLSharpApp
    from svc_helpers import block_photo, png_bytes, service_config

    owner = MLSharpApp(service_config(tmp_path))
    service, seen = owner.service, {}

    async def slow_predict(*args, **kwargs):
        seen["inflight"] = service.inflight
        await asyncio.sleep(60)  # stands for a long prediction the client will not wait for

    async def app(scope, receive, send):
        """The service as a client sees it that leaves once its upload is sent."""
        body_sent = False

        async def leaving_receive() -> dict:
            nonlocal body_sent
            if body_sent and scope["type"] == "http":
                return {"type": "http.disconnect"}
            message = await receive()
            body_sent = message.get("type") == "http.request" and not message.get("more_body", False)
            return message

        await owner.app(scope, leaving_receive, send)

    with TestClient(app) as client:
        service.predict = slow_predict
        response = client.post("/api/predict", files={"file": ("p.png", png_bytes(block_photo()), "image/png")})
        assert seen["inflight"] == 1 and response.status_code == 499
        assert service.inflight == 0 and client.get("/api/stats").json()["active_tasks"] == 0
