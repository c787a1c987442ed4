"""The streamed zip (``mlsharp.batch.zipstream``): a valid archive, produced member by member."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile

import pytest

from mlsharp.batch.zipstream import Member, stream_zip


def test_streamed_archive_is_valid_and_members_are_opened_lazily(tmp_path):
    opened: list[str] = []
    big = os.urandom(3 << 20)

    def source(name: str, data: bytes):
        def chunks():
            opened.append(name)
            for start in range(0, len(data), 1 << 20):
                yield data[start: start + (1 << 20)]
        return Member(name, chunks)

    stream = stream_zip([source("a.ply", big), source("sub/b.ply", b"small"), source("manifest.json", b"{}")])
    first = next(stream)
    assert opened == ["a.ply"] and len(first) < len(big)  # the first bytes leave before the rest is read
    body = first + b"".join(stream)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["a.ply", "sub/b.ply", "manifest.json"]
        assert archive.testzip() is None
        assert archive.read("a.ply") == big and archive.read("sub/b.ply") == b"small"
    if shutil.which("unzip"):  # an independent reader agrees
        path = tmp_path / "x.zip"
        path.write_bytes(body)
        assert subprocess.run(["unzip", "-tq", str(path)], capture_output=True).returncode == 0


def test_an_empty_archive_is_still_a_zip():
    with zipfile.ZipFile(io.BytesIO(b"".join(stream_zip([])))) as archive:
        assert archive.namelist() == []


def test_a_failing_source_stops_the_stream():
    def broken():
        yield b"x"
        raise OSError("store gone")

    with pytest.raises(OSError, match="store gone"):
        b"".join(stream_zip([Member("a", broken)]))
