"""Where photos in flight and finished scenes live: one interface, a directory or an S3 bucket.

Objects are named by a *URI* (``/abs/dir/name`` or ``file:///abs/dir/name`` for a directory,
``s3://bucket/prefix/name`` for S3) so that only strings travel through a job queue. Every write
is atomic: a reader sees the whole object or none (a directory store renames a finished temporary
file; an S3 PUT or completed multipart upload is atomic by itself). That is what lets a job that
runs twice (at-least-once delivery) write the same output name again harmlessly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class StorageError(RuntimeError):
    """The store could not be reached or refused an operation; the message says which."""


@dataclass(frozen=True)
class S3Settings:
    """How to reach an S3-compatible store; ``None`` fields fall back to boto3's own environment."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    multipart_threshold_mb: int = 64


class Store(Protocol):
    """Every place a photo or a scene is kept, behind keys; writes are atomic so a job that runs twice
    (at-least-once delivery) only rewrites the same bytes."""

    root: str  # the URI of the store itself; objects are ``root + "/" + key``

    def uri(self, key: str) -> str: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None:
        """Publish the local file ``path`` as ``key`` (it is moved or uploaded, then gone)."""

    def get_bytes(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """Where the object is on this machine's filesystem (directory stores), else ``None``."""

    def stream(self, key: str) -> Iterator[bytes]: ...

    def presigned_url(self, key: str, disposition: str, expires_s: int) -> str | None:
        """A time-limited download link (S3) answering with ``disposition`` as its
        Content-Disposition, or ``None`` where the store has none."""


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def open_store(root: str, s3: S3Settings | None = None) -> Store:
    """The store at ``root`` (a directory path/``file://`` URI or ``s3://bucket/prefix``)."""
    if is_s3(root):
        from mlsharp.storage.s3 import S3Store

        return S3Store(root, s3 or S3Settings())
    from mlsharp.storage.directory import DirectoryStore

    return DirectoryStore(root)


def open_object(uri: str, s3: S3Settings | None = None) -> tuple[Store, str]:
    """The store holding the object ``uri`` and the object's key in it."""
    root, _, key = uri.rstrip("/").rpartition("/")
    if not key or not root:
        raise StorageError(f"not an object URI: {uri!r}")
    return open_store(root, s3), key
