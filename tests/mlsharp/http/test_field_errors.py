"""Validation errors in plain words: each field named as a person sees it, one line, nothing of pydantic's."""

from __future__ import annotations

import pytest

from mlsharp.field_labels import label
from mlsharp.http.field_errors import one_line, plain


@pytest.mark.parametrize(("error", "text"), [
    ({"type": "float_parsing", "loc": ("body", "f_px"), "input": "200°"}, "Focal length must be a number, got “200°”"),
    ({"type": "int_parsing", "loc": ("body", "input_size"), "input": "big"},
     "Network input size must be a whole number, got “big”"),
    ({"type": "greater_than_equal", "loc": ("query", "max_gaussians"), "input": "0", "ctx": {"ge": 1}},
     "Gaussian count must be at least 1, got “0”"),
    ({"type": "less_than_equal", "loc": ("query", "max_gaussians"), "input": "9", "ctx": {"le": 5}},
     "Gaussian count must be at most 5, got “9”"),
    ({"type": "missing", "loc": ("body", "file")}, "No photo was sent"),
    ({"type": "missing", "loc": ("body", "files")}, "No photos were sent"),
    ({"type": "missing", "loc": ("query", "job_id")}, "Job id is required"),
    ({"type": "enum", "loc": ("path", "fmt"), "input": "exe", "ctx": {"expected": "'ply' or 'spz'"}},
     "Format must be 'ply' or 'spz', got “exe”"),
    ({"type": "string_too_long", "loc": ("query", "name"), "ctx": {"max_length": 1000}},
     "Download name is too long (at most 1000 characters)"),
    ({"type": "something_new", "loc": ("body", "webhook_url"), "msg": "Value error, bad"}, "Webhook URL: value error, bad"),
])
def test_each_error_reads_as_a_sentence_about_the_field(error, text):
    assert plain(error) == text


def test_what_was_sent_is_echoed_on_one_line_and_clipped():
    text = plain({"type": "float_parsing", "loc": ("body", "f_px"), "input": "1\n2\r\n" + "9" * 100})
    assert "\n" not in text and "\r" not in text and "more characters" in text


def test_several_errors_join_into_one_line():
    errors = [{"type": "float_parsing", "loc": ("body", "f_px"), "input": "x"},
              {"type": "missing", "loc": ("body", "file")}]
    assert one_line(errors) == "Focal length must be a number, got “x”; No photo was sent"
    assert one_line([]) == "The request is not valid"


def test_labels_follow_the_page_and_unknown_fields_read_as_words():
    assert label("f_px") == "Focal length" and label("input_size") == "Network input size"
    assert label("batch_id") == "Batch id"
