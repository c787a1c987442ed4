"""Helpers of the route tests (a module with a unique name, so imports are unambiguous)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from svc_helpers import png_bytes


def crash_task(*args):  # noqa: ARG001 - stands in for mlsharp.engines.task.execute
    """Runs in the worker: the OS killing the process in the middle of a prediction."""
    os.kill(os.getpid(), signal.SIGKILL)


def hang_task(*args):  # noqa: ARG001
    signal.pause()


def upload(client, data: bytes, name: str = "photo.png", **fields):
    return client.post("/api/predict", files={"file": (name, data, "application/octet-stream")},
                       data={k: str(v) for k, v in fields.items()})


def unique_png(seed: int, width: int = 64, height: int = 48) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return png_bytes(rgb)


def assert_error(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and fragment in body["detail"], body


def poll_job(client, job_id: str, deadline_s: float = 30.0) -> dict:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] in ("done", "error"):
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")
