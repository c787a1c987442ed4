"""Photo decoding, orientation and focal length."""

import io

import numpy as np
import pytest
from PIL import Image

from sharpnet.utils.photo import PhotoError, focal_35mm_to_px, load_photo


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def exif_with(**tags) -> Image.Exif:
    exif = Image.Exif()
    ids = {"Orientation": 0x0112}
    sub_ids = {"FocalLength": 0x920A, "FocalLengthIn35mmFilm": 0xA405, "FocalPlaneXResolution": 0xA20E,
               "FocalPlaneResolutionUnit": 0xA210, "ExifImageWidth": 0xA002}
    sub = exif.get_ifd(0x8769)
    for name, value in tags.items():
        if name in ids:
            exif[ids[name]] = value
        else:
            sub[sub_ids[name]] = value
    return exif


def test_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 20))  # blue strip on the left
    photo = load_photo(encode(img, "JPEG", exif=exif_with(Orientation=6), quality=95))
    assert photo.rgb.shape == (40, 20, 3)  # rotated to portrait
    assert photo.rgb[0, 10, 2] > 200  # the left strip is now on top


def test_focal_from_35mm_equivalent_then_sensor_then_default():
    img = Image.new("RGB", (400, 300))
    p = load_photo(encode(img, "JPEG", exif=exif_with(FocalLengthIn35mmFilm=26)))
    assert p.focal_source == "exif-35mm" and p.f_px == pytest.approx(focal_35mm_to_px(400, 300, 26))
    # 4.2 mm lens on a sensor with 1000 px/mm recorded at 4000 px width -> scaled to 400 px.
    p = load_photo(encode(img, "JPEG", exif=exif_with(
        FocalLength=4.2, FocalPlaneXResolution=1000.0, FocalPlaneResolutionUnit=4, ExifImageWidth=4000)))
    assert p.focal_source == "exif-sensor" and p.f_px == pytest.approx(4.2 * 1000 * 400 / 4000)
    p = load_photo(encode(img, "JPEG", exif=exif_with(FocalLength=50.0)))
    assert p.focal_source == "exif-focal" and p.f_px == pytest.approx(focal_35mm_to_px(400, 300, 50))
    p = load_photo(encode(img))
    assert p.focal_source == "default" and p.f_px == pytest.approx(focal_35mm_to_px(400, 300, 30))
    assert load_photo(encode(img), f_px=321.0).f_px == 321.0


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1"])
def test_every_mode_becomes_rgb8(mode):
    base = Image.linear_gradient("L").resize((32, 24))
    img = base.convert(mode) if mode != "I;16" else Image.fromarray((np.asarray(base, np.uint16) * 257))
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    photo = load_photo(encode(img, fmt))
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (24, 32, 3)


def test_sixteen_bit_keeps_its_range():
    arr = np.full((8, 8), 65535, np.uint16)
    assert load_photo(encode(Image.fromarray(arr))).rgb.min() == 255


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"),
    (b"definitely not an image", "not a readable image"),
])
def test_bad_bytes_are_photo_errors(data, reason):
    with pytest.raises(PhotoError, match=reason):
        load_photo(data)


def test_truncated_and_oversized_images_are_rejected(tmp_path):
    png = encode(Image.new("RGB", (64, 64), (10, 20, 30)))
    with pytest.raises(PhotoError):
        load_photo(png[: len(png) // 2])
    with pytest.raises(PhotoError, match="exceeds"):
        load_photo(png, max_pixels=1000)
    with pytest.raises(PhotoError, match="no such file"):
        load_photo(tmp_path / "missing.png")
