"""Gaussian-splat vertices -> PlayCanvas's compressed ``.ply`` (``*.compressed.ply``).

Why this one rather than PlayCanvas's newer SOG: a compressed PLY is still a valid PLY (any PLY
parser opens it), it is read by the PlayCanvas engine, SuperSplat, Spark and splat-transform,
and it is encoded deterministically with plain integer packing; SOG needs lossless WebP images
and a k-means codebook (randomised, slow on a CPU) for a format fewer third-party tools read.

Layout, all little-endian, as PlayCanvas's readers decode it:

* ``element chunk ceil(N / 256)``, 18 float32 per chunk of 256 consecutive Gaussians: min/max of
  x y z, of the log scales, and of the displayed colour ``0.5 + SH_C0 * f_dc``;
* ``element vertex N``, four uint32 per Gaussian:

  - ``packed_position``: x, y, z normalised within the chunk's bounds, 11 / 10 / 11 bits (x high);
  - ``packed_rotation``: bits 30-31 the index (w x y z order) of the largest-magnitude component
    of the unit quaternion, made positive and dropped; the other three in index order, 10 bits
    each, as ``q / sqrt(2) + 0.5`` (first of them in the highest bits);
  - ``packed_scale``: the log scales like the position, within the chunk's scale bounds;
  - ``packed_color``: R G B within the chunk's colour bounds, 8 bits each, then alpha
    ``sigmoid(opacity)`` in the low 8 bits.

Spherical harmonics beyond DC are dropped (SHARP has none). Order is the PLY's, so the chunks of
SHARP's grid-ordered scenes are rows of neighbouring pixels, whose bounds are tight.
"""

from __future__ import annotations

import numpy as np

from sharpnet.io.columns import largest_positive, splat_columns

CHUNK = 256
CHUNK_PROPERTIES = (
    [f"{end}_{axis}" for end in ("min", "max") for axis in "xyz"]
    + [f"{end}_scale_{axis}" for end in ("min", "max") for axis in "xyz"]
    + [f"{end}_{c}" for end in ("min", "max") for c in "rgb"]
)
VERTEX_PROPERTIES = ("packed_position", "packed_rotation", "packed_scale", "packed_color")


def _header(n: int, chunks: int) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0", "comment written by MLSharp 3D Maker",
             f"element chunk {chunks}"]
    lines += [f"property float {name}" for name in CHUNK_PROPERTIES]
    lines.append(f"element vertex {n}")
    lines += [f"property uint {name}" for name in VERTEX_PROPERTIES]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _chunk_bounds(values: np.ndarray, chunks: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-chunk (min, max) of an (N, 3) column; the last chunk is padded with its own first row."""
    n = values.shape[0]
    padded = np.concatenate([values, np.repeat(values[-1:], chunks * CHUNK - n, axis=0)]) if n else values
    blocks = padded.reshape(chunks, CHUNK, 3)
    return blocks.min(axis=1), blocks.max(axis=1)


def _normalised(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(N, 3) values -> [0, 1] within their chunk's bounds (0 where a chunk's range is empty)."""
    index = np.arange(values.shape[0]) // CHUNK
    low, span = lo[index], (hi - lo)[index]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(span > 0, (values - low) / span, 0.0)
    return np.clip(t, 0.0, 1.0)


def _pack(t: np.ndarray, bits: tuple[int, ...]) -> np.ndarray:
    """Unit-range columns -> one uint32 word, the first column in the highest bits."""
    word = np.zeros(t.shape[0], dtype=np.uint32)
    for column, width in zip(t.T, bits):
        word = (word << np.uint32(width)) | np.rint(column * ((1 << width) - 1)).astype(np.uint32)
    return word


def compressed_ply_bytes(vertices: np.ndarray) -> bytes:
    cols = splat_columns(vertices)
    n = len(cols)
    chunks = (n + CHUNK - 1) // CHUNK
    columns = (cols.positions.astype(np.float64), cols.log_scales.astype(np.float64), cols.rgb01.astype(np.float64))
    bounds = [_chunk_bounds(c, chunks) for c in columns]
    chunk_table = np.concatenate([np.concatenate(b, axis=1) for b in bounds], axis=1).astype("<f4")

    position = _pack(_normalised(columns[0], *bounds[0]), (11, 10, 11))
    scale = _pack(_normalised(columns[1], *bounds[1]), (11, 10, 11))
    rgb = _normalised(columns[2], *bounds[2])
    color = _pack(np.concatenate([rgb, cols.alpha[:, None]], axis=1), (8, 8, 8, 8))

    q, largest = largest_positive(cols.quaternions)
    keep = np.ones((n, 4), dtype=bool)
    keep[np.arange(n), largest] = False
    rest = q[keep].reshape(n, 3).astype(np.float64)
    rotation = _pack(np.clip(rest / np.sqrt(2.0) + 0.5, 0.0, 1.0), (10, 10, 10))
    rotation |= largest.astype(np.uint32) << np.uint32(30)

    table = np.stack([position, rotation, scale, color], axis=1).astype("<u4")
    return _header(n, chunks) + chunk_table.tobytes() + table.tobytes()
