"""Photo discovery below folders and collision-free output names (``sharpnet.utils.photo_files``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpnet.utils.photo_files import expand_photos, is_photo_name, unique_name


def test_photo_names_are_recognised_by_suffix_case_blind():
    assert is_photo_name("a/B.JPG") and is_photo_name("x.heic") and is_photo_name("dir\\y.png")
    assert not is_photo_name("notes.txt") and not is_photo_name("._x.jpg") and not is_photo_name(".hidden.png")
    assert not is_photo_name("folder/")


def test_folders_are_walked_recursively_and_keep_their_subfolders(tmp_path: Path):
    (tmp_path / "album" / "day2").mkdir(parents=True)
    for name in ("album/b.jpg", "album/a.PNG", "album/day2/a.png", "album/readme.txt", "single.dat"):
        (tmp_path / name).write_bytes(b"x")
    found = expand_photos([tmp_path / "album", tmp_path / "single.dat"])
    assert [(p.relative_to(tmp_path).as_posix(), s.as_posix()) for p, s in found] == [
        ("album/a.PNG", "a"), ("album/b.jpg", "b"), ("album/day2/a.png", "day2/a"), ("single.dat", "single"),
    ]


def test_a_missing_argument_is_named():
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        expand_photos([Path("/nowhere.jpg")])


def test_unique_names_number_repeats_case_blind():
    taken: set[str] = set()
    names = [unique_name(n, taken) for n in ("x.ply", "X.ply", "x.ply", "y/x.ply", "x-2.ply")]
    assert names == ["x.ply", "X-2.ply", "x-3.ply", "y/x.ply", "x-2-2.ply"]
