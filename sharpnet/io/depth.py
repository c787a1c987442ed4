"""The scene's depth as images: a 16-bit PNG in millimetres and a colourised preview PNG.

Why from the Gaussians: they are the network's final geometry (SHARP's depth, refined by its
Gaussian decoder; the preview backend's depth prior likewise), and they are what every output
keeps, so a depth map can be made for any finished output, now or later, with no network run.

Definition: each pixel of the photo's image plane (scaled so the long side is at most
``max_side``) holds the depth ``z`` (metres along the camera's forward axis) of the nearest
Gaussian centre projecting into it, among the Gaussians with opacity >= 0.3 (the visible front;
all of them where none is that opaque). Empty pixels take the nearest filled neighbour's depth
(a few passes of 3x3 growth), and remain 0 ("no data") beyond that.

16-bit PNG: ``round(z * 1000)`` millimetres, clamped to 1..65535 (so depths beyond 65.535 m read
65535, and 0 always means "no data"); the PNG's text chunk says so.
Preview: disparity ``1/z`` normalised between the 2nd and 98th percentiles, near = bright.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, PngImagePlugin

from sharpnet.io.columns import splat_columns
from sharpnet.io.ply import PlyMetadata

MAX_MM = 65535
MIN_ALPHA = 0.3
FILL_PASSES = 4
# A dark-blue -> magenta -> orange -> pale-yellow ramp (perceptually ordered, readable in print).
_RAMP = np.array([[13, 8, 135], [126, 3, 168], [204, 71, 120], [248, 149, 64], [240, 249, 33]], dtype=np.float64)
DEPTH_NOTE = ("depth in millimetres along the camera's forward axis; 0 = no data; "
              f"values clamped to 1..{MAX_MM} mm")


def depth_map(vertices: np.ndarray, metadata: PlyMetadata, max_side: int = 1024) -> np.ndarray:
    """(H, W) float32 depth in metres on the photo's image plane (0 where nothing projects)."""
    width, height, f_px = metadata.image_width, metadata.image_height, metadata.focal_length_px
    scale = min(1.0, max_side / max(width, height))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    cols = splat_columns(vertices)
    p = cols.positions.astype(np.float64)
    visible = cols.alpha >= MIN_ALPHA
    if not visible.any():
        visible = np.ones(len(p), dtype=bool)
    p = p[visible & (p[:, 2] > 1e-6)]
    u = np.floor((f_px * p[:, 0] / p[:, 2] + width / 2) * scale).astype(np.int64)
    v = np.floor((f_px * p[:, 1] / p[:, 2] + height / 2) * scale).astype(np.int64)
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    depth = np.full(h * w, np.inf)
    np.minimum.at(depth, v[inside] * w + u[inside], p[inside, 2])
    depth = depth.reshape(h, w)
    for _ in range(FILL_PASSES):
        empty = ~np.isfinite(depth)
        if not empty.any():
            break
        padded = np.pad(depth, 1, constant_values=np.inf)
        grown = np.min([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)
        depth = np.where(empty, grown, depth)
    return np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)


def depth_png16(depth: np.ndarray) -> bytes:
    mm = np.where(depth > 0, np.clip(np.rint(depth * 1000.0), 1, MAX_MM), 0).astype(np.uint16)
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", DEPTH_NOTE)
    out = io.BytesIO()
    Image.fromarray(mm).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def depth_preview_png(depth: np.ndarray) -> bytes:
    known = depth > 0
    disparity = np.where(known, 1.0 / np.where(known, depth, 1.0), 0.0)
    if known.any():
        lo, hi = np.percentile(disparity[known], [2, 98])
        t = np.clip((disparity - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    else:
        t = np.zeros_like(disparity)
    position = t * (len(_RAMP) - 1)
    index = np.minimum(position.astype(np.int64), len(_RAMP) - 2)
    frac = (position - index)[..., None]
    rgb = _RAMP[index] * (1 - frac) + _RAMP[index + 1] * frac
    rgb[~known] = 0.0
    out = io.BytesIO()
    Image.fromarray(np.rint(rgb).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()
