"""Upload checks: the header probe the API runs and the full decode the worker runs agree."""

from __future__ import annotations

import pickle

import pytest

from mlsharp.intake import BadInput, decode, probe
from svc_helpers import block_photo, png_bytes


def test_probe_refuses_without_decoding():
    with pytest.raises(BadInput) as empty:
        probe(b"", 1000)
    assert empty.value.status_code == 400 and "empty" in empty.value.detail
    with pytest.raises(BadInput) as big:
        probe(png_bytes(block_photo(96, 64)), 1000)
    assert big.value.status_code == 413 and "96x64" in str(big.value)


def test_a_truncated_file_passes_the_probe_and_fails_the_decode():
    truncated = png_bytes(block_photo())[:200]
    probe(truncated, 10**8)  # the header is fine
    with pytest.raises(BadInput) as failure:
        decode(truncated, None, 10**8)
    assert failure.value.status_code == 400 and "cannot use the upload as a photo" in failure.value.detail


def test_bad_input_survives_the_trip_back_from_a_worker_process():
    again = pickle.loads(pickle.dumps(BadInput(413, "too many pixels")))
    assert (again.status_code, again.detail, str(again)) == (413, "too many pixels", "too many pixels")


def test_decode_gives_the_photo_and_its_focal_length():
    photo = decode(png_bytes(block_photo(96, 64)), 80.0, 10**8)
    assert (photo.width, photo.height, photo.f_px, photo.focal_source) == (96, 64, 80.0, "user")
