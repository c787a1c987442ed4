"""Download names and the query that carries them: what an upload's name becomes, what a header says."""

from __future__ import annotations

import pytest

from mlsharp.delivery import MAX_STEM, Delivery, clean_name, download_stem

ID = "c01152f7" + "0" * 24


@pytest.mark.parametrize(("filename", "stem"), [
    ("shapes.png", "shapes"),
    ("中文.jpg", "中文"),
    ("my.holiday.photo.heic", "my.holiday.photo"),
    ("../../etc/passwd.jpg", "passwd"),
    ("C:\\Users\\me\\Desktop\\beach.jpg", "beach"),
    ('say "cheese".jpg', "say cheese"),
    ("tab\there\x00\x1b.png", "tabhere"),
    ("a;b,c<d>e|f?g*h.png", "abcdefgh"),
    (".hidden.png", "hidden"),
    ("..", None),
    ("...jpg", "jpg"),
    ("noext", "noext"),
    ("", None),
    (None, None),
    ("\u202e\u200bgnp.exe", "gnp"),
    ("say %22cheese%22%0D%0A.jpg", "say cheese"),  # how browsers send quotes and line breaks  # format characters (bidi override, zero width) are control-like
])
def test_an_upload_name_becomes_a_plain_stem(filename, stem):
    assert download_stem(filename) == stem


def test_long_names_are_cut():
    assert download_stem("x" * 500 + ".jpg") == "x" * MAX_STEM


def test_a_url_name_is_cleaned_again_but_keeps_its_dots():
    assert clean_name("my.photo") == "my.photo"
    assert clean_name("../../x") == "x"
    assert clean_name('a"\r\nb') == "ab"


def test_ascii_names_give_a_plain_header():
    assert Delivery("shapes").disposition(ID, ".ply") == 'attachment; filename="shapes.ply"'
    assert Delivery("shapes").disposition(ID, "-100.spz") == 'attachment; filename="shapes-100.spz"'


def test_non_ascii_names_add_rfc_5987_and_an_ascii_fallback():
    assert Delivery("中文").disposition(ID, ".ply") == (
        f"attachment; filename=\"{ID}.ply\"; filename*=UTF-8''%E4%B8%AD%E6%96%87.ply")
    assert Delivery("café").disposition(ID, ".ply") == (
        "attachment; filename=\"cafe.ply\"; filename*=UTF-8''caf%C3%A9.ply")


def test_no_name_is_the_output_id():
    assert Delivery().disposition(ID, ".ply") == f'attachment; filename="{ID}.ply"'


def test_every_header_is_latin_1_and_one_line():
    for name in ("中文", "café", "a b", None):
        header = Delivery(name).disposition(ID, ".compressed.ply")
        header.encode("latin-1")
        assert "\n" not in header and "\r" not in header


def test_the_query_carries_name_and_density():
    assert Delivery().query() == ""
    assert Delivery("a b").query() == "?name=a%20b"
    assert Delivery("中", 500).query() == "?name=%E4%B8%AD&max_gaussians=500"
    assert Delivery("x", 500).query(density=False) == "?name=x"
    assert Delivery(None, 500).query() == "?max_gaussians=500"
