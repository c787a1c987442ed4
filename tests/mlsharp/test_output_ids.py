"""Output ids and format suffixes: what may name a file in an output folder."""

from __future__ import annotations

import pytest

from mlsharp.output_ids import (
    SIDECAR,
    is_output_id,
    is_output_suffix,
    new_output_id,
    output_suffixes,
    register_suffix,
    split_name,
)


def test_ids_are_random_hex_and_validated():
    ids = {new_output_id() for _ in range(100)}
    assert len(ids) == 100 and all(is_output_id(i) for i in ids)
    for bad in ("../etc/passwd", "abc", "0" * 31, "G" * 32, "0" * 32 + "/x", "0" * 33):
        assert not is_output_id(bad)


def test_registered_suffixes_and_density_tags_are_outputs():
    assert {".ply", ".spz"} <= set(output_suffixes())
    assert is_output_suffix(".spz") and is_output_suffix(".n200000.spz")
    assert not is_output_suffix(".exe") and not is_output_suffix(".n0.spz") and not is_output_suffix(SIDECAR)


@pytest.mark.parametrize("bad", [".json", "ply", ".PLY", "../x", ".a/b", ".toolongsuffixforany"])
def test_unusable_suffixes_are_refused(bad):
    with pytest.raises(ValueError):
        register_suffix(bad)


def test_split_name_finds_the_id_and_the_whole_suffix():
    oid = new_output_id()
    assert split_name(f"{oid}.n50.compressed.ply") == (oid, ".n50.compressed.ply")
    assert split_name(f"{oid}.json") == (oid, ".json")
    assert split_name("README.txt") is None and split_name(oid) is None
