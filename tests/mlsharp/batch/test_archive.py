"""Reading uploaded zips (``mlsharp.batch.archive``): photo members only, limits before and while unpacking."""

from __future__ import annotations

import io
import struct

import pytest

from mlsharp.batch.archive import ArchiveTooLarge, BadArchive, open_archive, plan, read_photos
from svc_helpers import zip_of




def test_photos_are_taken_by_name_and_others_skipped():
    data = zip_of({"a.jpg": b"A", "../../evil/b.PNG": b"B", "notes.txt": b"t", "__MACOSX/._a.jpg": b"m",
                     ".DS_Store": b"d", "dir/": b""})
    archive = open_archive(io.BytesIO(data))
    chosen = plan(archive, max_files=10, max_bytes=100)
    assert chosen.skipped == ["notes.txt"]
    photos = list(read_photos(archive, chosen, budget=100))
    assert [(p.name, p.data) for p in photos] == [("a.jpg", b"A"), ("b.PNG", b"B")]


def test_counts_and_declared_sizes_are_refused_before_unpacking():
    archive = open_archive(io.BytesIO(zip_of({f"{i}.jpg": b"x" for i in range(4)})))
    with pytest.raises(ArchiveTooLarge, match="more than 3 photos"):
        plan(archive, max_files=3, max_bytes=100)
    bomb = open_archive(io.BytesIO(zip_of({"zeros.png": bytes(20 << 20)})))  # ~20 KB packed, 20 MB unpacked
    with pytest.raises(ArchiveTooLarge, match="unpack to more than"):
        plan(bomb, max_files=3, max_bytes=1 << 20)


def test_a_member_lying_about_its_size_cannot_unpack_past_it():
    data = bytearray(zip_of({"liar.png": bytes(8 << 20)}))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # declared uncompressed size: 100 bytes
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 100)
    archive = open_archive(io.BytesIO(bytes(data)))
    chosen = plan(archive, max_files=3, max_bytes=1000)
    [photo] = list(read_photos(archive, chosen, budget=1000))
    assert photo.data is None and "cannot be unpacked" in photo.error


def test_the_batch_budget_is_enforced_while_unpacking():
    archive = open_archive(io.BytesIO(zip_of({"a.png": b"a" * 600, "b.png": b"b" * 600})))
    chosen = plan(archive, max_files=3, max_bytes=10_000)
    photos = read_photos(archive, chosen, budget=1000)
    assert next(photos).data == b"a" * 600
    with pytest.raises(ArchiveTooLarge):
        next(photos)


def test_not_a_zip_is_a_bad_archive():
    with pytest.raises(BadArchive, match="cannot be read"):
        open_archive(io.BytesIO(b"PK not really"))
