"""Photo loading: decode, honour EXIF orientation, find the focal length in pixels.

Focal length, in order of preference (the first that is present and sane wins):

1. ``FocalLengthIn35mmFilm`` (35 mm-equivalent mm): scaled by the image diagonal over the
   36x24 mm frame diagonal, as the reference does.
2. ``FocalLength`` (mm) with the sensor's ``FocalPlaneXResolution`` / ``FocalPlaneResolutionUnit``:
   the physical focal length times pixels per mm on the sensor, rescaled to the decoded width.
3. ``FocalLength`` alone: treated as 35 mm-equivalent; below 10 mm it is taken to be a phone's
   physical focal length and multiplied by 8.4 (the reference's approximation).
4. Nothing: 30 mm-equivalent (a typical phone main camera), ``source = "default"``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps

DEFAULT_FOCAL_35MM = 30.0
_FRAME_DIAGONAL_35MM = math.hypot(36.0, 24.0)
# FocalPlaneResolutionUnit: 2 = inch, 3 = centimetre, 4 = millimetre, 5 = micrometre.
_MM_PER_UNIT = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}

try:  # HEIC/HEIF support is optional.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the environment
    HEIF_SUPPORTED = False


class PhotoError(ValueError):
    """The input cannot be used as a photo; the message says why, in one line."""


@dataclass(frozen=True)
class Photo:
    rgb: np.ndarray  # (H, W, 3) uint8, upright
    f_px: float  # focal length in pixels of this (upright) image
    focal_source: str  # "exif-35mm" | "exif-sensor" | "exif-focal" | "default" | "user"

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def focal_35mm_to_px(width: int, height: int, f_35mm: float) -> float:
    return float(f_35mm * math.hypot(width, height) / _FRAME_DIAGONAL_35MM)


def _exif_fields(image: Image.Image) -> dict[str, object]:
    exif = image.getexif()
    fields = {ExifTags.TAGS.get(k, k): v for k, v in exif.items()}
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001 - a corrupt sub-IFD just means "no EXIF"
        sub = {}
    fields.update({ExifTags.TAGS.get(k, k): v for k, v in sub.items()})
    return fields


def _as_float(value: object) -> float | None:
    try:
        out = float(value)  # IFDRational, int and float all convert
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) and out > 0 else None


def focal_length_from_exif(fields: dict[str, object], width: int, height: int) -> tuple[float, str]:
    """Focal length in pixels for an upright ``width`` x ``height`` image, and where it came from."""
    f35 = _as_float(fields.get("FocalLengthIn35mmFilm"))
    if f35 is not None and f35 >= 1:
        return focal_35mm_to_px(width, height, f35), "exif-35mm"
    f_mm = _as_float(fields.get("FocalLength"))
    if f_mm is not None:
        res = _as_float(fields.get("FocalPlaneXResolution"))
        unit = fields.get("FocalPlaneResolutionUnit", 2)
        exif_width = _as_float(fields.get("ExifImageWidth"))
        if res is not None and unit in _MM_PER_UNIT:
            px_per_mm = res / _MM_PER_UNIT[unit]
            # The sensor resolution refers to the long side of the image as recorded.
            long_side = max(width, height)
            scale = long_side / exif_width if exif_width else 1.0
            return f_mm * px_per_mm * scale, "exif-sensor"
        f_equiv = f_mm * 8.4 if f_mm < 10.0 else f_mm
        return focal_35mm_to_px(width, height, f_equiv), "exif-focal"
    return focal_35mm_to_px(width, height, DEFAULT_FOCAL_35MM), "default"


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Any PIL mode (greyscale, 16-bit, palette, CMYK, alpha) to an (H, W, 3) uint8 array."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max(initial=0) > 255 else 255.0
        grey = np.clip(np.round(array / peak * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas become white, as most viewers show them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def load_photo(
    source: str | Path | bytes, f_px: float | None = None, max_pixels: int | None = None
) -> Photo:
    """Decode ``source`` (a path or the file's bytes) into an upright RGB photo with its focal length.

    Raises :class:`PhotoError` for anything that is not a decodable image (empty, truncated, not an
    image, over ``max_pixels``).
    """
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise PhotoError("the file is empty")
        stream: object = io.BytesIO(source)
        name = "upload"
    else:
        path = Path(source)
        if not path.is_file():
            raise PhotoError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise PhotoError(f"{path}: the file is empty")
        stream = path
        name = str(path)
    try:
        with Image.open(stream) as image:
            if max_pixels is not None and image.width * image.height > max_pixels:
                raise PhotoError(
                    f"{name}: {image.width}x{image.height} pixels exceeds the limit of {max_pixels}"
                )
            fields = _exif_fields(image)
            upright = ImageOps.exif_transpose(image)
            upright.load()
            rgb = to_rgb8(upright)
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoError(f"{name}: image is too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError) as exc:
        raise PhotoError(f"{name}: not a readable image ({exc})") from exc
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise PhotoError(f"{name}: image is too small ({rgb.shape[1]}x{rgb.shape[0]})")
    height, width = rgb.shape[:2]
    if f_px is not None:
        return Photo(rgb=rgb, f_px=float(f_px), focal_source="user")
    focal, source_name = focal_length_from_exif(fields, width, height)
    return Photo(rgb=rgb, f_px=focal, focal_source=source_name)
