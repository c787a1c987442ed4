"""A store in an S3-compatible bucket (AWS, MinIO, Ceph, ...), through boto3.

Large files go up as multipart uploads (boto3's transfer manager, above
``S3Settings.multipart_threshold_mb``); S3 makes an object visible only once its upload is
complete, so readers never see half a scene. Credentials and region come from the settings when
given, else from boto3's usual chain (``AWS_ACCESS_KEY_ID``, profiles, instance roles).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlsharp.storage import S3Settings, StorageError

CHUNK = 1 << 20


class S3Store:
    """An S3-compatible bucket: boto3 is imported only when one is configured."""

    def __init__(self, root: str, settings: S3Settings) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config as BotoConfig

        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        if not bucket:
            raise StorageError(f"no bucket in {root!r} (expected s3://bucket/prefix)")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.root = f"s3://{bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )
        threshold = settings.multipart_threshold_mb * (1 << 20)
        self.transfer = TransferConfig(multipart_threshold=threshold, multipart_chunksize=max(threshold // 4, 5 << 20))

    def _key(self, key: str) -> str:
        if not key or "/" in key:
            raise StorageError(f"invalid object name {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _fail(self, what: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"S3 {what} of {self.uri(key)} failed: {exc}")

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as exc:  # noqa: BLE001 - botocore's many error types become one
            raise self._fail("upload", key, exc) from exc

    def put_file(self, key: str, path: Path) -> None:
        try:
            self.client.upload_file(str(path), self.bucket, self._key(key), Config=self.transfer)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("upload", key, exc) from exc
        Path(path).unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:  # noqa: BLE001
            raise self._fail("download", key, exc) from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail("lookup", key, exc) from exc
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:  # noqa: BLE001
            raise self._fail("delete", key, exc) from exc

    def local_path(self, key: str) -> Path | None:
        return None

    def stream(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except Exception as exc:  # noqa: BLE001
            raise self._fail("download", key, exc) from exc
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def presigned_url(self, key: str, disposition: str, expires_s: int) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key),
                    "ResponseContentDisposition": disposition},
            ExpiresIn=expires_s,
        )
