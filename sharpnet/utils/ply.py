"""Binary PLY export in exactly the layout of Apple's reference exporter, written with vectorised numpy.

Layout (little-endian): a vertex element of 14 float32 properties
``x y z f_dc_0..2 opacity scale_0..2 rot_0..3`` followed by seven small metadata elements:
extrinsic (16 f4, identity), intrinsic (9 f4, K of the original photo), image_size (2 u4, W H),
frame (2 i4: 1, N), disparity (2 f4: 10th/90th percentile of 1/z), color_space (1 u1, 0 = sRGB),
version (3 u1: 1 5 0). Scales are stored as logs, opacity as a logit, colours as sRGB SH DC terms.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharpnet.gaussians import Gaussians
from sharpnet.utils.color import linear_to_srgb, rgb_to_sh_dc, sh_dc_to_rgb, srgb_to_linear

VERTEX_PROPERTIES = (
    ["x", "y", "z"]
    + [f"f_dc_{i}" for i in range(3)]
    + ["opacity"]
    + [f"scale_{i}" for i in range(3)]
    + [f"rot_{i}" for i in range(4)]
)
PLY_VERSION = (1, 5, 0)
COLOR_SPACE_SRGB = 0

# (element name, count or None for "N", numpy dtype, PLY type name); the vertex block comes first.
_TAIL_ELEMENTS = (
    ("extrinsic", 16, "<f4", "float"),
    ("intrinsic", 9, "<f4", "float"),
    ("image_size", 2, "<u4", "uint"),
    ("frame", 2, "<i4", "int"),
    ("disparity", 2, "<f4", "float"),
    ("color_space", 1, "u1", "uchar"),
    ("version", 3, "u1", "uchar"),
)


@dataclass(frozen=True)
class PlyMetadata:
    """What the metadata elements record about the photo the scene came from."""

    focal_length_px: float
    image_width: int
    image_height: int
    disparity_quantiles: tuple[float, float]
    color_space: int
    version: tuple[int, int, int]


def ply_header(num_gaussians: int) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0", f"element vertex {num_gaussians}"]
    lines += [f"property float {name}" for name in VERTEX_PROPERTIES]
    for name, count, _, ply_type in _TAIL_ELEMENTS:
        lines += [f"element {name} {count}", f"property {ply_type} {name}"]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def vertex_rows(gaussians: Gaussians) -> np.ndarray:
    """The (N, 14) float32 vertex table, one PLY row per Gaussian."""
    n = len(gaussians)
    rows = np.empty((n, len(VERTEX_PROPERTIES)), dtype=np.float32)
    rows[:, 0:3] = gaussians.mean_vectors
    rows[:, 3:6] = rgb_to_sh_dc(linear_to_srgb(gaussians.colors.astype(np.float32)))
    opacities = gaussians.opacities.astype(np.float32)
    with np.errstate(divide="ignore"):
        rows[:, 6] = np.log(opacities / (1.0 - opacities))
        rows[:, 7:10] = np.log(gaussians.singular_values.astype(np.float32))
    rows[:, 10:14] = gaussians.quaternions
    return rows


def ply_tail(gaussians: Gaussians, f_px: float, image_width: int, image_height: int) -> bytes:
    """Every byte after the vertex block."""
    n = len(gaussians)
    with np.errstate(divide="ignore"):
        disparity = 1.0 / gaussians.mean_vectors[:, 2].astype(np.float32)
    quantiles = np.quantile(disparity, [0.1, 0.9]) if n else np.zeros(2)
    values = {
        "extrinsic": np.eye(4).ravel(),
        "intrinsic": np.array(
            [f_px, 0.0, image_width * 0.5, 0.0, f_px, image_height * 0.5, 0.0, 0.0, 1.0]
        ),
        "image_size": np.array([image_width, image_height]),
        "frame": np.array([1, n]),
        "disparity": quantiles,
        "color_space": np.array([COLOR_SPACE_SRGB]),
        "version": np.array(PLY_VERSION),
    }
    return b"".join(
        values[name].astype(dtype).tobytes() for name, _, dtype, _ in _TAIL_ELEMENTS
    )


def ply_bytes(gaussians: Gaussians, f_px: float, image_width: int, image_height: int) -> bytes:
    return (
        ply_header(len(gaussians))
        + vertex_rows(gaussians).tobytes()
        + ply_tail(gaussians, f_px, image_width, image_height)
    )


def save_ply(
    gaussians: Gaussians, f_px: float, image_width: int, image_height: int, path: str | Path
) -> Path:
    """Write the scene atomically: a reader never sees a half-written file under ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(ply_header(len(gaussians)))
            fh.write(vertex_rows(gaussians).tobytes())
            fh.write(ply_tail(gaussians, f_px, image_width, image_height))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_ply(path_or_bytes: str | Path | bytes) -> tuple[Gaussians, PlyMetadata]:
    """Read a file written by :func:`save_ply` (the reference's layout) back into Gaussians."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise ValueError("not a PLY file")
    header = data[: end + len(b"end_header\n")]
    try:
        n = int(header.split(b"element vertex ", 1)[1].split(b"\n", 1)[0])
    except (IndexError, ValueError) as exc:
        raise ValueError("PLY header has no vertex element") from exc
    if header != ply_header(n):
        raise ValueError("PLY header is not the SHARP layout")
    offset = len(header)
    rows = np.frombuffer(data, dtype="<f4", count=n * len(VERTEX_PROPERTIES), offset=offset)
    rows = rows.reshape(n, len(VERTEX_PROPERTIES))
    offset += rows.nbytes
    tail = {}
    for name, count, dtype, _ in _TAIL_ELEMENTS:
        tail[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        offset += tail[name].nbytes
    if offset != len(data):
        raise ValueError(f"PLY has {len(data) - offset} unexpected trailing bytes")
    gaussians = Gaussians(
        mean_vectors=rows[:, 0:3].copy(),
        singular_values=np.exp(rows[:, 7:10]),
        quaternions=rows[:, 10:14].copy(),
        colors=srgb_to_linear(sh_dc_to_rgb(rows[:, 3:6])),
        opacities=1.0 / (1.0 + np.exp(-rows[:, 6])),
    )
    width, height = (int(v) for v in tail["image_size"])
    metadata = PlyMetadata(
        focal_length_px=float(tail["intrinsic"][0]),
        image_width=width,
        image_height=height,
        disparity_quantiles=(float(tail["disparity"][0]), float(tail["disparity"][1])),
        color_space=int(tail["color_space"][0]),
        version=tuple(int(v) for v in tail["version"]),
    )
    return gaussians, metadata
