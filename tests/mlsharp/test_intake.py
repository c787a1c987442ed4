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


def test_pixel_limits_are_worded_in_megapixels():
    from mlsharp.intake import megapixels, too_large

    assert [megapixels(n) for n in (108_000_000, 100_000_000, 1_200_000, 100_400_000, 6_144)] == [
        "108", "100", "1.2", "100.4", "0.0061"]
    assert too_large(100_000_000, 108_000_000, "12000x9000").detail == (
        "Photo too large: 108 MP (12000x9000), limit 100 MP")
    refused = too_large(100_000_000)
    assert (refused.status_code, refused.detail) == (413, "Photo too large: over the 100 MP limit")
