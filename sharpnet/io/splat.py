"""Gaussian-splat vertices -> the ``.splat`` layout of antimatter15's WebGL viewer.

Why: it is the lowest common denominator of web splat viewers (antimatter15's, gsplat.js, Spark,
PlayCanvas's splat-transform, many three.js loaders read it), a flat file with no header that a
viewer can stream. 32 bytes per Gaussian, little-endian, nothing else in the file:

* position, 3 x float32 (as the PLY has it: SHARP's OpenCV axes, no conversion);
* scale, 3 x float32, linear (``exp`` of the PLY's log scales);
* colour, 4 x uint8: RGB = ``round((0.5 + SH_C0 * f_dc) * 255)`` clipped, A = ``round(sigmoid(opacity) * 255)``;
* rotation, 4 x uint8: the unit quaternion in the PLY's ``rot_0..3`` (w x y z) order, each
  component as ``round(q * 128 + 128)`` clipped to 0..255.

No spherical harmonics beyond the DC term (the format has none) and no photo metadata; the
Gaussians keep the PLY's order, so index ``i`` is the same Gaussian in every export.
"""

from __future__ import annotations

import numpy as np

from sharpnet.io.columns import splat_columns, to_u8

BYTES_PER_SPLAT = 32
RECORD = np.dtype([("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rotation", "u1", 4)])
assert RECORD.itemsize == BYTES_PER_SPLAT


def splat_bytes(vertices: np.ndarray) -> bytes:
    cols = splat_columns(vertices)
    records = np.empty(len(cols), dtype=RECORD)
    records["position"] = cols.positions
    records["scale"] = np.exp(cols.log_scales)
    records["rgba"][:, :3] = to_u8(cols.rgb01 * 255.0)
    records["rgba"][:, 3] = to_u8(cols.alpha * 255.0)
    records["rotation"] = to_u8(cols.quaternions * 128.0 + 128.0)
    return records.tobytes()
