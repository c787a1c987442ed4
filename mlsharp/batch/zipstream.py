"""A zip archive written as a stream of chunks: nothing is built whole, in memory or on disk.

:class:`zipfile.ZipFile` writes to an unseekable file by putting each member's CRC and sizes in a
data descriptor after its data instead of going back to patch the local header; :class:`_Sink`
is such a file, handing over what was written since the last chunk. So the memory held is one
read chunk of one member plus the central directory (a few dozen bytes a member), whatever the
archive's size, and each member's bytes are read once from the store, never copied to a
temporary file. Members are *stored*, not deflated: a scene's float32 columns shrink by only ~7 %
while deflate cut the stream to a few MB/s on a busy CPU (``bench/bench_batch_zip.py``), and the
download should be network-bound, not compression-bound.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    name: str  # the path inside the archive ("/"-separated)
    chunks: Callable[[], Iterable[bytes]]  # opened only when the member's turn comes


class _Sink:
    """Write-only and unseekable (no ``tell``/``seek``), so zipfile streams with data descriptors."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def stream_zip(members: Iterable[Member]) -> Iterator[bytes]:
    """Yield the archive's bytes member by member (``members`` may itself be produced lazily)."""
    sink = _Sink()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w") as out:
                for chunk in member.chunks():
                    out.write(chunk)
                    data = sink.drain()
                    if data:
                        yield data
            data = sink.drain()
            if data:
                yield data
    data = sink.drain()  # the central directory, written when the archive closes
    if data:
        yield data
