"""Real external servers for the tests: redis-server and moto's S3 server, on free loopback ports.

Each is started by a fixture, waited for by condition (it answers), and stopped after; where the
program is missing the tests that need it skip and say how to get it (run_tests.sh installs both).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, deadline_s: float = 30.0, what: str = "condition") -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (./run_tests.sh installs Debian's redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            assert process.poll() is None, "redis-server exited at start"
            return False

    try:
        wait_for(answers, what="redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        stop(process)


@contextmanager
def moto_s3_server() -> Iterator[str]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip("moto[server] is not installed (requirements-dev.txt)")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, "moto server exited at start"
        try:
            with urllib.request.urlopen(endpoint, timeout=1):
                return True
        except OSError:
            return False

    try:
        wait_for(answers, what="moto S3 server")
        yield endpoint
    finally:
        stop(process)


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
