"""Gaussian-splat PLY -> Niantic's SPZ (version 3), the compact form the web viewer downloads.

Why: a SHARP scene of 1.18 M Gaussians is a 66 MB PLY (14 float32 per Gaussian); the browser
needs only what it can display, and SPZ carries that in about a tenth of the bytes: quantised
attributes stored attribute by attribute (so gzip finds the redundancy) inside one gzip stream.
The download button still serves the standard ``.ply``; this file is for the viewer only.

Format (from the public description of the format, encoded here with numpy), little-endian,
everything after gzip decompression:

* header, 16 bytes: magic ``0x5053474E`` ("NGSP"), version 3, number of points (u32),
  SH degree, fractional bits, flags, reserved (u8 each);
* positions: 3 x signed 24-bit fixed point per Gaussian, ``round(v * 2**fractional_bits)``;
* alphas: ``round(sigmoid(opacity_logit) * 255)``;
* colours: the DC term as ``round(f_dc * 0.15 * 255 + 127.5)`` (0.15, not SH_C0, leaves headroom
  for colours slightly outside [0, 1]);
* scales: log scale as ``round((ln s + 10) * 16)``;
* rotations: "smallest three", one u32 each: bits 30-31 hold the index (in x y z w order) of the
  largest-magnitude component, made positive; the other three follow in index order, 10 bits
  each (sign bit, then a 9-bit magnitude scaled so that 1/sqrt(2) -> 511), the first of them in
  the highest bits;
* spherical harmonics beyond the DC term (degree 1..3, from ``f_rest_*`` when the PLY has
  them): one byte each, ``round(v * 128) + 128`` snapped to 5 bits (degree 1) or 4 bits (higher),
  coefficient-major with the colour channel innermost.

Coordinates are written as the PLY has them (SHARP: OpenCV axes, x right, y down, z forward),
with no axis conversion, as the reference library does for an unspecified source frame and as
Spark reads them; the page orients the camera for the OpenCV convention for both files alike.
"""

from __future__ import annotations

import gzip
import os
import uuid
from pathlib import Path

import numpy as np

MAGIC = 0x5053474E
VERSION = 3
MAX_FRACTIONAL_BITS = 12  # 1/4096 m (~0.25 mm) steps while the scene fits in +-2048 m
COLOR_SCALE = 0.15
GZIP_LEVEL = 1  # the first view waits for this: level 6 saves 4% of the size for 2.3x the time
SH_DIM_FOR_DEGREE = {0: 0, 1: 3, 2: 8, 3: 15}
_INT24_MAX = (1 << 23) - 1
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
REQUIRED = (
    ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
    + [f"scale_{i}" for i in range(3)]
    + [f"rot_{i}" for i in range(4)]
)


def read_ply_vertices(path: Path) -> np.ndarray:
    """The vertex element of a binary little-endian PLY as a structured array.

    Any Gaussian-splat PLY works, not only SHARP's: elements before the vertex element are
    skipped (they must have fixed-size rows), elements after it are ignored.
    """
    data = np.fromfile(path, dtype=np.uint8)
    head = data[: 1 << 16].tobytes()
    end = head.find(b"end_header\n")
    if not head.startswith(b"ply\n") or end < 0:
        raise ValueError(f"{path.name} is not a PLY file")
    lines = head[:end].decode("ascii", errors="replace").splitlines()[1:]
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    fmt = None
    for line in lines:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            fmt = words[1] if len(words) > 1 else None
        elif words[0] == "element" and len(words) == 3:
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            if words[1] == "list":
                elements[-1][2].append((words[-1], "list"))
            elif len(words) == 3 and words[1] in _PLY_TYPES:
                elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))
            else:
                raise ValueError(f"unsupported PLY property line: {line!r}")
    if fmt != "binary_little_endian":
        raise ValueError(f"only binary_little_endian PLY is supported, not {fmt}")
    offset = end + len(b"end_header\n")
    for name, count, props in elements:
        if any(kind == "list" for _, kind in props):
            if name == "vertex":
                raise ValueError("PLY vertex element has list properties")
            raise ValueError(f"PLY element {name!r} before the vertices has list properties")
        dtype = np.dtype([(prop, "<" + kind) for prop, kind in props])
        if name == "vertex":
            missing = [p for p in REQUIRED if p not in dtype.names]
            if missing:
                raise ValueError(f"PLY vertices lack Gaussian-splat properties: {', '.join(missing)}")
            if offset + count * dtype.itemsize > len(data):
                raise ValueError("PLY file is truncated")
            return np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        offset += count * dtype.itemsize
    raise ValueError("PLY has no vertex element")


def _sh_rest(vertices: np.ndarray) -> tuple[int, np.ndarray | None]:
    """SH degree and the (N, dim, 3) higher-order coefficients, if the PLY has any."""
    names = vertices.dtype.names
    count = 0
    while f"f_rest_{count}" in names:
        count += 1
    for degree in (3, 2, 1):
        dim = SH_DIM_FOR_DEGREE[degree]
        if count >= 3 * dim:
            # PLY order is channel-major: f_rest[c * dim + k].
            rest = np.stack([vertices[f"f_rest_{c * dim + k}"] for c in range(3) for k in range(dim)], axis=1)
            return degree, rest.reshape(len(vertices), 3, dim).transpose(0, 2, 1).astype(np.float32)
    return 0, None


def _to_u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def fractional_bits_for(positions: np.ndarray) -> int:
    """The finest fixed-point step whose 24-bit range still holds every coordinate."""
    extent = float(np.max(np.abs(positions))) if positions.size else 0.0
    if extent <= 0.0:
        return MAX_FRACTIONAL_BITS
    bits = int(np.floor(np.log2(_INT24_MAX / extent)))
    return int(np.clip(bits, 0, MAX_FRACTIONAL_BITS))


def pack_rotations(wxyz: np.ndarray) -> np.ndarray:
    """(N, 4) PLY quaternions (w x y z, any norm) -> (N,) uint32 smallest-three words.

    Column-at-a-time uint32 arithmetic: ~0.2 s for 1.18 M rotations, where (N, 4) fancy
    indexing took 0.9 s -- and this runs while the first view of a scene waits.
    """
    q = np.ascontiguousarray(wxyz[:, [1, 2, 3, 0]], dtype=np.float32)  # the format's x y z w order
    norm = np.sqrt(np.einsum("ij,ij->i", q, q))
    good = np.isfinite(norm) & (norm > 1e-12)
    q /= np.where(good, norm, np.float32(1.0))[:, None]
    if not good.all():
        q[~good] = (0.0, 0.0, 0.0, 1.0)  # no usable rotation: identity
    magnitude = np.abs(q)
    largest = np.argmax(magnitude, axis=1).astype(np.uint32)
    # q and -q are the same rotation: flip so the dropped (largest) component is positive.
    negative = (q < 0) ^ (np.take_along_axis(q, largest[:, None].astype(np.intp), axis=1) < 0)
    magnitude *= np.float32(511.0 * np.sqrt(2.0))  # |component| <= 1/sqrt(2) -> 0..511
    magnitude += np.float32(0.5)  # round half up
    fields = np.minimum(magnitude.astype(np.uint32), np.uint32(511))
    fields |= negative.astype(np.uint32) << np.uint32(9)
    word = largest << np.uint32(30)
    for i in range(4):
        # Kept components in index order fill bits 20-29, 10-19, 0-9; the largest is skipped.
        column = np.ascontiguousarray(fields[:, i])
        column <<= np.where(largest < i, np.uint32(30 - 10 * i), np.uint32(max(0, 20 - 10 * i)))
        column[largest == i] = 0
        word |= column
    return word


def spz_bytes(vertices: np.ndarray) -> bytes:
    """The gzip-compressed SPZ stream for a structured array of Gaussian-splat PLY vertices."""
    n = len(vertices)
    if n >= 1 << 32:
        raise ValueError(f"{n} Gaussians do not fit an SPZ header")

    def column(name: str) -> np.ndarray:
        return np.asarray(vertices[name], dtype=np.float32)

    positions = np.stack([column("x"), column("y"), column("z")], axis=1)
    # A Gaussian with a non-finite centre cannot be drawn; keep its slot but make it invisible.
    broken = ~np.isfinite(positions).all(axis=1)
    positions[broken] = 0.0
    bits = fractional_bits_for(positions)
    fixed = np.clip(np.rint(positions.astype(np.float64) * (1 << bits)), -_INT24_MAX, _INT24_MAX).astype("<i4")
    pos24 = fixed.view(np.uint8).reshape(n, 3, 4)[:, :, :3]  # low three bytes of each LE int32

    with np.errstate(over="ignore", invalid="ignore"):
        alpha = 1.0 / (1.0 + np.exp(-column("opacity").astype(np.float64)))
    alpha = np.where(np.isnan(alpha) | broken, 0.0, alpha)
    alphas = _to_u8(alpha * 255.0)

    f_dc = np.nan_to_num(np.stack([column(f"f_dc_{i}") for i in range(3)], axis=1), nan=0.0)
    colors = _to_u8(f_dc * (COLOR_SCALE * 255.0) + 127.5)

    log_scales = np.nan_to_num(np.stack([column(f"scale_{i}") for i in range(3)], axis=1), nan=-10.0)
    scales = _to_u8((np.clip(log_scales, -20.0, 20.0) + 10.0) * 16.0)

    rotations = pack_rotations(np.stack([column(f"rot_{i}") for i in range(4)], axis=1)).astype("<u4")

    degree, rest = _sh_rest(vertices)
    parts = [
        np.array([MAGIC, VERSION, n], dtype="<u4").tobytes(),
        bytes([degree, bits, 0, 0]),
        pos24.tobytes(),
        alphas.tobytes(),
        colors.tobytes(),
        scales.tobytes(),
        rotations.tobytes(),
    ]
    if rest is not None:
        quantised = np.clip(np.rint(np.nan_to_num(rest) * 128.0) + 128.0, 0, 255).astype(np.int32)
        step = np.full(rest.shape[1], 16, dtype=np.int32)
        step[:3] = 8  # degree-1 coefficients keep 5 bits, higher degrees 4
        quantised = (quantised + step[None, :, None] // 2) // step[None, :, None] * step[None, :, None]
        parts.append(np.clip(quantised, 0, 255).astype(np.uint8).tobytes())
    return gzip.compress(b"".join(parts), compresslevel=GZIP_LEVEL, mtime=0)


def ply_to_spz(ply_path: Path, spz_path: Path) -> None:
    """Convert a Gaussian-splat PLY into an SPZ file, atomically (temp file + rename).

    Raises ValueError for a file that is not a binary little-endian Gaussian-splat PLY; then
    nothing is left at ``spz_path``.
    """
    ply_path, spz_path = Path(ply_path), Path(spz_path)
    payload = spz_bytes(read_ply_vertices(ply_path))
    tmp = spz_path.with_name(f".{spz_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, spz_path)
    finally:
        tmp.unlink(missing_ok=True)
