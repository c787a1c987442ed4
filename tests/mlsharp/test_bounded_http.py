"""A bounded HTTP layer, against a real uvicorn server: oversized heads are 431/414 at once, idle,
half-sent and stalled requests are closed with 408, too many header lines are 431, and a caller
without a key is refused before its (large) body is read."""

from __future__ import annotations

import socket
import time

import pytest
from fastapi.testclient import TestClient

from app import MLSharpApp
from svc_helpers import block_photo, launch_app, png_bytes, service_config

KEY = "bounded-http-test-key-0123456789"
LINES = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("bounded")
    process, port = launch_app(root, {
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), "checkpoint": str(root / "absent.pt")},
        "inference": {"input_size": [512, 512]},
        "limits": {"max_upload_mb": 60.0, "max_header_kb": 16, "max_header_lines": LINES,
                   "header_timeout": 2.0, "body_timeout": 2.0},
        "security": {"api_keys": [KEY]},
    }, headers={"X-API-Key": KEY})
    yield port
    process.kill()
    process.wait(timeout=30)


def exchange(port: int, chunks, wait: float = 60.0) -> tuple[bytes, float]:
    """Send ``chunks`` (stopping if the server closes), then read until it closes; (reply, seconds)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server has answered and closed
        reply = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            reply += data
    return reply, time.monotonic() - started


def status_of(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    return int(reply.split(b" ", 2)[1])


def test_a_one_megabyte_header_is_431_at_once(server):
    head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
    reply, seconds = exchange(server, [head] + [b"a" * 65536] * 16 + [b"\r\n\r\n"])
    assert status_of(reply) == 431 and b"larger than" in reply
    print(f"1 MB header refused in {seconds * 1000:.0f} ms")


def test_an_overlong_request_line_is_414(server):
    reply, _ = exchange(server, [b"GET /" + b"a" * (8 * 1024 + 10) + b" HTTP/1.1\r\n\r\n"])
    assert status_of(reply) == 414


def test_too_many_header_lines_are_431(server):
    lines = b"".join(b"X-H%d: 1\r\n" % n for n in range(LINES + 5))
    reply, _ = exchange(server, [b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines + b"\r\n"])
    assert status_of(reply) == 431


@pytest.mark.parametrize("sent", [b"", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"], ids=["idle", "half-head"])
def test_a_connection_that_never_finishes_its_head_is_closed(server, sent):
    reply, seconds = exchange(server, [sent] if sent else [])
    assert status_of(reply) == 408
    print(f"closed after {seconds:.1f} s (limits.header_timeout 2 s)")


def test_a_stalled_body_is_408(server):
    head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY.encode()
            + b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n")
    reply, seconds = exchange(server, [head, b"--b\r\n"])
    assert status_of(reply) == 408 and b"stalled" in reply
    print(f"stalled body cut off after {seconds:.1f} s")


def test_no_key_is_refused_before_a_45_mb_body_is_read(server):
    head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 45000000\r\n\r\n")
    reply, seconds = exchange(server, [head], wait=30)  # not one byte of the body is sent
    assert status_of(reply) == 401
    print(f"401 without the body in {seconds * 1000:.0f} ms")


def test_the_rate_limit_is_counted_once_per_request(tmp_path):
    owner = MLSharpApp(service_config(tmp_path, limits={"rate_limit_per_minute": 2}))
    with TestClient(owner.app) as client:
        codes = [client.post("/api/predict", files={"file": ("p.png", png_bytes(block_photo(64, 48, b)),
                                                            "image/png")}).status_code for b in (4, 8, 16)]
    assert codes == [200, 200, 429]
