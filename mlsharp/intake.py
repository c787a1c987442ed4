"""Uploaded photo bytes -> a checked, decoded photo and the keys that name its result.

Split in two on purpose: :func:`probe` reads only the header and runs in the API server, so bad
input is refused before anything is enqueued; :func:`decode` does the full decode and runs in the
worker (local pool or Dramatiq), so the server never holds a big photo's pixels. Both raise
:class:`BadInput` carrying the HTTP status the API answers with; a worker reports it as a job
error and it is never retried (the same bytes would fail the same way).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from sharpnet.utils.photo import Photo, PhotoError, load_photo

_SIGNATURES = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF8", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (8, b"WEBP", "WebP"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
)


class BadInput(Exception):
    """The upload cannot be used; ``status_code`` is the 4xx to answer with. Picklable."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


def sniff_format(data: bytes) -> str | None:
    """The image format the first bytes announce (only used to word an error precisely)."""
    for offset, magic, name in _SIGNATURES:
        if data[offset: offset + len(magic)] == magic:
            return name
    return None


def megapixels(pixels: int) -> str:
    """``108000000`` -> ``"108"``, ``1_200_000`` -> ``"1.2"``: how people count photo sizes."""
    value = pixels / 1e6
    text = f"{value:.1f}" if value >= 0.1 else f"{value:.2g}"
    return text.removesuffix(".0")


def too_large(max_pixels: int, pixels: int | None = None, size: str = "") -> BadInput:
    """``Photo too large: 108 MP (12000x9000), limit 100 MP``, or ``... over the 100 MP limit``
    when the size is not known."""
    limit = megapixels(max_pixels)
    if not pixels:
        return BadInput(413, f"Photo too large: over the {limit} MP limit")
    return BadInput(413, f"Photo too large: {megapixels(pixels)} MP{f' ({size})' if size else ''}, limit {limit} MP")


def probe(data: bytes, max_pixels: int) -> tuple[int, int] | None:
    """Header-only checks (empty, not an image, over the pixel limit); cheap enough for the server.
    Returns the stored (width, height) when the header names it."""
    if not data:
        raise BadInput(400, "the uploaded file is empty")
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except Image.DecompressionBombError:
        raise too_large(max_pixels) from None
    except UnidentifiedImageError:
        kind = sniff_format(data)
        if kind:
            raise BadInput(
                400, f"the upload looks like a {kind} file but cannot be decoded (damaged or truncated)"
            ) from None
        raise BadInput(
            400, "the upload is not an image in a supported format (JPEG, PNG, WebP, HEIC, TIFF, ...)"
        ) from None
    except Exception:  # noqa: BLE001 - a damaged header: the full decode words it
        return None
    if width * height > max_pixels:
        raise too_large(max_pixels, width * height, f"{width}x{height}")
    return width, height


def decode(data: bytes, f_px: float | None, max_pixels: int) -> Photo:
    """The full decode (EXIF orientation and focal length included); runs in the worker."""
    probe(data, max_pixels)
    try:
        return load_photo(data, f_px=f_px, max_pixels=max_pixels)
    except PhotoError as exc:
        message = str(exc).removeprefix("upload: ")
        if "too large" in message or "exceeds the limit" in message:
            raise too_large(max_pixels) from None
        raise BadInput(400, f"cannot use the upload as a photo: {message}") from None


def pixel_key(rgb: np.ndarray, f_px: float, side: int, identity: str) -> str:
    """Cache key of a decoded photo: the same pixels in another file reuse the result."""
    digest = hashlib.sha256(b"mlsharp-result-v1\0")
    digest.update(f"{rgb.shape}|{float(f_px).hex()}|{side}|{identity}\0".encode())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.hexdigest()


def upload_key(data: bytes, f_px: float | None, side: int, identity: str) -> str:
    """Key of the uploaded bytes: lets the server answer a repeat upload without any decode."""
    digest = hashlib.sha256(b"mlsharp-upload-v1\0")
    digest.update(f"{None if f_px is None else float(f_px).hex()}|{side}|{identity}\0".encode())
    digest.update(data)
    return digest.hexdigest()
