"""Downloads from an S3 store (moto's server): relayed through the API, or redirected to a
presigned URL that serves the same bytes."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

import boto3

from mlsharp.delivery import Delivery
from mlsharp.downloads import remote_download
from mlsharp.engines.redis_cache import RedisResultIndex
from mlsharp.storage import S3Settings
from mlsharp.storage.s3 import S3Store


def test_stream_and_redirect_serve_the_stored_scene(s3_endpoint, redis_client):
    bucket = f"d-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    store = S3Store(f"s3://{bucket}/r", S3Settings(endpoint_url=s3_endpoint))
    index = RedisResultIndex(redis_client, "results", store, max_size=10)
    output_id = uuid.uuid4().hex
    store.put_bytes(f"{output_id}.ply", b"ply bytes")
    index.put("key", output_id, {})
    streamed = asyncio.run(remote_download(index, output_id, "ply", Delivery(), redirect=False, expiry_s=60))
    assert b"".join(streamed.chunks) == b"ply bytes"
    assert streamed.disposition == f'attachment; filename="{output_id}.ply"'
    named = Delivery("中文")
    redirected = asyncio.run(remote_download(index, output_id, "ply", named, redirect=True, expiry_s=60))
    assert redirected.url.startswith(s3_endpoint) and redirected.chunks is None
    with urllib.request.urlopen(redirected.url, timeout=10) as response:
        assert response.read() == b"ply bytes"
        assert response.headers["Content-Disposition"] == named.disposition(output_id, ".ply")
