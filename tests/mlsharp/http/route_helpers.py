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


def with_query(url: str, **params) -> str:
    """``url`` with ``params`` set in its query, keeping what it has (the answers' URLs carry ?name=)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | {k: str(v) for k, v in params.items()}
    return parts._replace(query=urlencode(query)).geturl()


def unique_png(seed: int, width: int = 64, height: int = 48) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return png_bytes(rgb)


def assert_error(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and fragment in body["detail"], body


def poll_until(client, url: str, states=("done", "error", "cancelled"), headers=None,
               deadline_s: float = 30.0) -> dict:
    """GET ``url`` until its ``state`` is one of ``states``; the last answer."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status = client.get(url, headers=headers).json()
        if status.get("state") in states:
            return status
        time.sleep(0.02)
    raise AssertionError(f"{url} never reached {states}")


def poll_job(client, job_id: str, deadline_s: float = 30.0) -> dict:
    return poll_until(client, f"/api/jobs/{job_id}", deadline_s=deadline_s)
