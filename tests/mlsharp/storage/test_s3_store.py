"""The S3 store against moto's real S3 server: atomic objects, multipart uploads, presigned links."""

from __future__ import annotations

import os
import urllib.request
import uuid

import boto3
import pytest

from mlsharp.storage import S3Settings, StorageError, open_object, open_store
from mlsharp.storage.s3 import S3Store


@pytest.fixture
def bucket(s3_endpoint):
    name = f"b-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def test_round_trip_and_missing_objects(s3_endpoint, bucket):
    store = open_store(f"s3://{bucket}/scenes", S3Settings(endpoint_url=s3_endpoint))
    assert isinstance(store, S3Store) and store.root == f"s3://{bucket}/scenes"
    store.put_bytes("a.bin", b"hello")
    assert store.exists("a.bin") and store.get_bytes("a.bin") == b"hello"
    assert b"".join(store.stream("a.bin")) == b"hello" and store.local_path("a.bin") is None
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["scenes/a.bin"]
    store.delete("a.bin")
    assert not store.exists("a.bin")
    with pytest.raises(StorageError, match="download"):
        store.get_bytes("a.bin")


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(s3_endpoint, bucket, tmp_path):
    store = S3Store(f"s3://{bucket}", S3Settings(endpoint_url=s3_endpoint, multipart_threshold_mb=5))
    payload = os.urandom(11 * (1 << 20))  # three parts of 5 MiB at most
    staged = tmp_path / "big.ply.part"
    staged.write_bytes(payload)
    store.put_file("big.ply", staged)
    assert not staged.exists()
    head = store.client.head_object(Bucket=bucket, Key="big.ply")
    assert head["ContentLength"] == len(payload) and "-" in head["ETag"]  # a multipart ETag
    assert store.get_bytes("big.ply") == payload


def test_a_presigned_link_downloads_with_the_file_name(s3_endpoint, bucket):
    store, key = open_object(f"s3://{bucket}/p/x.ply", S3Settings(endpoint_url=s3_endpoint))
    store.put_bytes(key, b"ply data")
    from mlsharp.delivery import Delivery

    disposition = Delivery("中文").disposition("0" * 32, ".ply")
    url = store.presigned_url(key, disposition, 60)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"ply data"
        assert response.headers["Content-Disposition"] == disposition


def test_an_unreachable_store_is_a_one_line_error(tmp_path):
    from ext_servers import free_port

    store = S3Store("s3://nowhere", S3Settings(endpoint_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(StorageError, match="S3 upload of s3://nowhere/a failed"):
        store.put_bytes("a", b"x")
