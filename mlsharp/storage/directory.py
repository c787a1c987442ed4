"""A store that is a folder: the default, and across machines on a shared filesystem (NFS)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from mlsharp.storage import StorageError

CHUNK = 1 << 20


class DirectoryStore:
    """A folder (local or a shared mount): atomic by writing a temporary file and renaming it."""

    def __init__(self, root: str | Path) -> None:
        text = str(root)
        self.directory = Path(text.removeprefix("file://")).resolve()
        self.root = str(self.directory)

    def _path(self, key: str) -> Path:
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise StorageError(f"invalid object name {key!r}")
        return self.directory / key

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def _staging(self, final: Path) -> Path:
        # A dot-name in the same folder (same filesystem, so the rename is atomic); cache loading
        # deletes leftovers ending in .part.
        return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.part")

    def put_bytes(self, key: str, data: bytes) -> None:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = self._staging(final)
        try:
            staged.write_bytes(data)
            os.replace(staged, final)
        finally:
            staged.unlink(missing_ok=True)

    def put_file(self, key: str, path: Path) -> None:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, final)  # same filesystem: atomic and free
            return
        except OSError:
            pass
        staged = self._staging(final)
        try:
            shutil.copyfile(path, staged)
            os.replace(staged, final)
            Path(path).unlink(missing_ok=True)
        finally:
            staged.unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"{self.uri(key)} does not exist") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def stream(self, key: str) -> Iterator[bytes]:
        with open(self._path(key), "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def presigned_url(self, key: str, disposition: str, expires_s: int) -> str | None:
        return None
