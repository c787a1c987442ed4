"""Every class of awkward upload gets a precise answer: odd image modes are converted, bombs and
garbage are refused with a 4xx JSON detail, and nothing is left behind in the temp or cache dirs."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app import MLSharpApp
from sharpnet.io.ply import read_ply
from svc_helpers import service_config

MAX_PIXELS = 1_000_000


@pytest.fixture(scope="module")
def owner(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    return MLSharpApp(service_config(root, limits={"max_pixels": MAX_PIXELS}, cache={"enabled": False}))


@pytest.fixture(scope="module")
def client(owner):
    with TestClient(owner.app) as client:
        yield client


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels but holds almost no data (a bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def predict(client, data: bytes, name: str = "upload.bin", **fields):
    return client.post("/api/predict", files={"file": (name, data, "application/octet-stream")},
                       data={k: str(v) for k, v in fields.items()})


def colours_of(client, body) -> np.ndarray:
    gaussians, meta = read_ply(client.get(body["url"]).content)
    assert (meta.image_width, meta.image_height) == (body["image_width"], body["image_height"])
    return gaussians.colors


def test_greyscale_16_bit_is_converted(client):
    ramp = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    image = Image.fromarray(ramp)  # uint16 -> mode I;16
    assert image.mode.startswith("I;16")
    body = predict(client, encode(image, "PNG")).json()
    colours = colours_of(client, body)
    assert body["status"] == "success" and (body["image_width"], body["image_height"]) == (64, 48)
    np.testing.assert_allclose(colours[:, 0], colours[:, 1], atol=1e-6)  # grey stays grey
    assert colours.max() > 0.5 and colours.min() < 0.1  # the full 16-bit range was used


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "PNG"), ("P", "PNG"), ("CMYK", "JPEG"), ("RGBA", "PNG"), ("LA", "PNG"), ("RGB", "WEBP"),
     ("RGB", "TIFF"), ("RGB", "BMP")],
)
def test_every_common_mode_and_format_is_accepted(client, mode, fmt):
    rgb = np.random.default_rng(5).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    body = predict(client, encode(image, fmt)).json()
    assert body.get("status") == "success", body
    assert (body["image_width"], body["image_height"]) == (40, 30)


def test_transparent_pixels_become_white(client):
    rgba = np.zeros((32, 32, 4), np.uint8)  # fully transparent black
    body = predict(client, encode(Image.fromarray(rgba, mode="RGBA"), "PNG")).json()
    np.testing.assert_allclose(colours_of(client, body), 1.0, atol=1e-3)


def test_exif_orientation_is_applied(client):
    image = Image.fromarray(np.zeros((20, 50, 3), np.uint8))  # 50 wide, 20 tall as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    body = predict(client, encode(image, "JPEG", exif=exif.tobytes())).json()
    assert (body["image_width"], body["image_height"]) == (20, 50)


def test_over_the_pixel_limit_is_413(client):
    big = Image.new("RGB", (1200, 1000), (10, 20, 30))  # 1.2 MP, compresses to a few KB
    response = predict(client, encode(big, "PNG"))
    assert response.status_code == 413
    assert response.json()["detail"] == "Photo too large: 1.2 MP (1200x1000), limit 1 MP"


def test_decompression_bomb_header_is_refused_before_decoding(client):
    response = predict(client, png_header_only(100_000, 100_000))
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Photo too large: ") and "1 MP" in response.json()["detail"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\0" * 10, "looks like a GIF file but cannot be decoded"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "looks like a JPEG file but cannot be decoded"),
        (b"hello world", "not an image"),
    ],
)
def test_broken_files_are_400(client, data, fragment):
    response = predict(client, data)
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


def test_truncated_jpeg_is_400(client):
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(rgb), "JPEG")
    response = predict(client, data[: len(data) // 2])
    assert response.status_code == 400 and "truncated" in response.json()["detail"]


def test_one_pixel_image_is_400(client):
    response = predict(client, encode(Image.new("RGB", (1, 1)), "PNG"))
    assert response.status_code == 400 and "too small" in response.json()["detail"]


@pytest.mark.parametrize("f_px", ["0", "-1", "1e300", "inf", "nan"])
def test_absurd_focal_lengths_are_422(client, f_px):
    data = encode(Image.new("RGB", (8, 8)), "PNG")
    response = predict(client, data, f_px=f_px)
    assert response.status_code == 422 and "Focal length must be between" in response.json()["detail"]


def test_nothing_is_left_in_the_temp_and_output_dirs(client, owner):
    predict(client, b"junk")
    predict(client, png_header_only(50_000, 50_000))
    parts = [p for p in owner.run_dir.rglob("*") if p.name.endswith(".part")]
    assert parts == []
    outputs = {p.stem for p in (owner.run_dir / "outputs").glob("*.ply")}
    assert outputs == owner.uncached.output_ids()
