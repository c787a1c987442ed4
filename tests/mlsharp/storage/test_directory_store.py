"""The directory store: atomic publication, names that cannot escape the folder, streaming."""

from __future__ import annotations

import pytest

from mlsharp.storage import StorageError, open_object, open_store
from mlsharp.storage.directory import DirectoryStore


def test_put_get_delete_round_trip(tmp_path):
    store = open_store(str(tmp_path / "results"))
    assert isinstance(store, DirectoryStore)
    store.put_bytes("a.bin", b"hello")
    assert store.exists("a.bin") and store.get_bytes("a.bin") == b"hello"
    assert b"".join(store.stream("a.bin")) == b"hello"
    assert store.local_path("a.bin") == tmp_path / "results" / "a.bin"
    store.delete("a.bin")
    assert not store.exists("a.bin")
    store.delete("a.bin")  # deleting twice is not an error (a job may end twice)
    with pytest.raises(StorageError, match="does not exist"):
        store.get_bytes("a.bin")


def test_put_file_moves_the_file_and_leaves_no_temporary(tmp_path):
    store = DirectoryStore(f"file://{tmp_path / 'out'}")
    source = tmp_path / "staged.ply"
    source.write_bytes(b"ply")
    store.put_file("x.ply", source)
    assert not source.exists() and store.get_bytes("x.ply") == b"ply"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["x.ply"]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "a\\b"])
def test_names_that_leave_the_folder_are_refused(tmp_path, name):
    with pytest.raises(StorageError, match="invalid object name"):
        DirectoryStore(tmp_path).put_bytes(name, b"x")


def test_an_object_uri_names_its_store_and_key(tmp_path):
    store, key = open_object(str(tmp_path / "photos" / "job1"))
    assert isinstance(store, DirectoryStore) and key == "job1"
    assert store.uri(key) == str(tmp_path / "photos" / "job1")
