"""Binary PLY: our writer (exactly the layout of Apple's reference exporter) and the project's one reader.

Layout (little-endian): a vertex element of 14 float32 properties
``x y z f_dc_0..2 opacity scale_0..2 rot_0..3`` followed by seven small metadata elements:
extrinsic (16 f4, identity), intrinsic (9 f4, K of the original photo), image_size (2 u4, W H),
frame (2 i4: 1, N), disparity (2 f4: 10th/90th percentile of 1/z), color_space (1 u1, 0 = sRGB),
version (3 u1: 1 5 0). Scales are stored as logs, opacity as a logit, colours as sRGB SH DC terms.

The reader (:func:`read_ply_elements`) takes any binary little-endian PLY with fixed-size rows, so
Gaussian-splat files of other tools (with ``f_rest_*`` spherical harmonics, extra columns, other
element orders) convert as well as ours; :func:`read_ply` turns SHARP's own layout back into
:class:`Gaussians` plus what its metadata elements record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharpnet.gaussians import Gaussians
from sharpnet.io.atomic import write_atomic
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


def photo_metadata(gaussians: Gaussians, f_px: float, image_width: int, image_height: int) -> PlyMetadata:
    """What the metadata elements will record for this scene and photo."""
    with np.errstate(divide="ignore"):
        disparity = 1.0 / gaussians.mean_vectors[:, 2].astype(np.float32)
    quantiles = np.quantile(disparity, [0.1, 0.9]) if len(gaussians) else np.zeros(2)
    return PlyMetadata(float(f_px), int(image_width), int(image_height),
                       (float(quantiles[0]), float(quantiles[1])), COLOR_SPACE_SRGB, PLY_VERSION)


def ply_tail_for(vertices: np.ndarray, metadata: PlyMetadata) -> bytes:
    """Every byte after the vertex block."""
    f_px, width, height = metadata.focal_length_px, metadata.image_width, metadata.image_height
    values = {
        "extrinsic": np.eye(4).ravel(),
        "intrinsic": np.array([f_px, 0.0, width * 0.5, 0.0, f_px, height * 0.5, 0.0, 0.0, 1.0]),
        "image_size": np.array([width, height]),
        "frame": np.array([1, len(vertices)]),
        "disparity": np.array(metadata.disparity_quantiles),
        "color_space": np.array([metadata.color_space]),
        "version": np.array(metadata.version),
    }
    return b"".join(
        values[name].astype(dtype).tobytes() for name, _, dtype, _ in _TAIL_ELEMENTS
    )


def ply_tail(gaussians: Gaussians, f_px: float, image_width: int, image_height: int) -> bytes:
    return ply_tail_for(gaussians.opacities, photo_metadata(gaussians, f_px, image_width, image_height))


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
    return write_atomic(path, [
        ply_header(len(gaussians)),
        vertex_rows(gaussians).tobytes(),
        ply_tail(gaussians, f_px, image_width, image_height),
    ])


_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
SPLAT_PROPERTIES = tuple(VERTEX_PROPERTIES)  # what every Gaussian-splat PLY's vertices must have
VERTEX_DTYPE = np.dtype([(name, "<f4") for name in VERTEX_PROPERTIES])


def _parse_header(head: bytes, name: str) -> tuple[int, list[tuple[str, int, np.dtype | None]]]:
    """Header length and (element, count, row dtype or None for rows with list properties)."""
    end = head.find(b"end_header\n")
    if not head.startswith(b"ply\n") or end < 0:
        raise ValueError(f"{name} is not a PLY file")
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    fmt = None
    for line in head[:end].decode("ascii", errors="replace").splitlines()[1:]:
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
                continue
            if len(words) != 3 or words[1] not in _PLY_TYPES:
                raise ValueError(f"unsupported PLY property line: {line!r}")
            elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))
    if fmt != "binary_little_endian":
        raise ValueError(f"only binary_little_endian PLY is supported, not {fmt}")
    typed = [
        (el, count, None if any(kind == "list" for _, kind in props)
         else np.dtype([(p, "<" + kind) for p, kind in props]))
        for el, count, props in elements
    ]
    return end + len(b"end_header\n"), typed


def read_ply_elements(source: str | Path | bytes, exact: bool = False) -> dict[str, np.ndarray]:
    """Every element of a binary little-endian PLY as a structured array, in file order.

    Zero-copy views into the file's bytes; ``vertex`` must carry the Gaussian-splat properties
    (checked here so every caller gets the same one-line error). ``exact`` also refuses bytes
    after the last element (a file of ours never has any).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = np.frombuffer(source, dtype=np.uint8), "upload"
    else:
        data, name = np.fromfile(source, dtype=np.uint8), Path(source).name
    offset, elements = _parse_header(data[: 1 << 16].tobytes(), name)
    names = [element for element, _, _ in elements]
    for element, _, dtype in elements:
        if dtype is None or element == "vertex":
            break
    if dtype is None:
        raise ValueError(f"PLY element {element!r} has list properties (not a splat file)")
    if "vertex" not in names:
        raise ValueError("PLY has no vertex element")
    vertex = elements[names.index("vertex")][2]
    missing = [p for p in SPLAT_PROPERTIES if p not in vertex.names]
    if missing:
        raise ValueError(f"PLY vertices lack Gaussian-splat properties: {', '.join(missing)}")
    out: dict[str, np.ndarray] = {}
    for element, count, dtype in elements:
        if dtype is None:  # rows of varying size after the vertices: nothing beyond can be located
            break
        if offset + count * dtype.itemsize > len(data):
            raise ValueError("PLY file is truncated")
        out[element] = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        offset += count * dtype.itemsize
    if exact and offset != len(data):
        raise ValueError(f"PLY has {len(data) - offset} unexpected trailing bytes")
    return out


def read_ply_vertices(source: str | Path | bytes) -> np.ndarray:
    """The vertex element of any Gaussian-splat PLY (see :func:`read_ply_elements`)."""
    return read_ply_elements(source)["vertex"]


def vertex_table(gaussians: Gaussians) -> np.ndarray:
    """Gaussians as the structured vertex array a read PLY gives: what every exporter consumes."""
    return vertex_rows(gaussians).view(VERTEX_DTYPE).reshape(len(gaussians))


def metadata_of(elements: dict[str, np.ndarray]) -> PlyMetadata | None:
    """What SHARP's metadata elements say, or None for a PLY without them (another tool's)."""
    if not all(name in elements for name, *_ in _TAIL_ELEMENTS):
        return None
    tail = {name: elements[name][name] for name, *_ in _TAIL_ELEMENTS}
    width, height = (int(v) for v in tail["image_size"])
    return PlyMetadata(
        focal_length_px=float(tail["intrinsic"][0]),
        image_width=width,
        image_height=height,
        disparity_quantiles=(float(tail["disparity"][0]), float(tail["disparity"][1])),
        color_space=int(tail["color_space"][0]),
        version=tuple(int(v) for v in tail["version"]),
    )


def gaussians_from_vertices(vertices: np.ndarray) -> Gaussians:
    def cols(*names: str) -> np.ndarray:
        return np.stack([np.asarray(vertices[n], dtype=np.float32) for n in names], axis=1)

    with np.errstate(over="ignore"):
        return Gaussians(
            mean_vectors=cols("x", "y", "z"),
            singular_values=np.exp(cols("scale_0", "scale_1", "scale_2")),
            quaternions=cols("rot_0", "rot_1", "rot_2", "rot_3"),
            colors=srgb_to_linear(sh_dc_to_rgb(cols("f_dc_0", "f_dc_1", "f_dc_2"))),
            opacities=(1.0 / (1.0 + np.exp(-np.asarray(vertices["opacity"], dtype=np.float32)))).astype(np.float32),
        )


def read_ply(source: str | Path | bytes) -> tuple[Gaussians, PlyMetadata]:
    """Read a file written by :func:`save_ply` (the reference's layout) back into Gaussians."""
    elements = read_ply_elements(source, exact=True)
    vertices = elements["vertex"]
    if vertices.dtype.names != tuple(VERTEX_PROPERTIES) or list(elements)[0] != "vertex":
        raise ValueError("PLY header is not the SHARP layout")
    metadata = metadata_of(elements)
    if metadata is None or list(elements) != ["vertex"] + [name for name, *_ in _TAIL_ELEMENTS]:
        raise ValueError("PLY header is not the SHARP layout")
    return gaussians_from_vertices(vertices), metadata
