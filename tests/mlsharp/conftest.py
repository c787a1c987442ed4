"""Fixtures for the service tests: small deterministic photos."""

from __future__ import annotations

import numpy as np
import pytest

from svc_helpers import block_photo, png_bytes


@pytest.fixture
def photo_rgb() -> np.ndarray:
    return block_photo()


@pytest.fixture
def photo_png() -> bytes:
    return png_bytes(block_photo())


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server of our own on a free loopback port, for the whole session."""
    from ext_servers import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(redis_url):
    """A client on a freshly emptied database (tests do not see each other's keys)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server on a free loopback port, with fake credentials in the env."""
    import os

    from ext_servers import S3_ENV, moto_s3_server

    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    try:
        with moto_s3_server() as endpoint:
            yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
