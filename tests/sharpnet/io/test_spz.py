"""sharpnet.io.spz: a PLY scene survives the SPZ round trip within the format's quantisation.

The decoder below is written from the format description independently of the encoder (bit by
bit, per Gaussian where that is clearer), so a shared misreading of the layout cannot pass
unnoticed; the browser test then checks that Spark draws the .spz like the .ply.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from sharpnet.gaussians import Gaussians
from sharpnet.io.ply import read_ply_vertices, save_ply
from sharpnet.io.registry import export_file, scene_from_ply

SQRT1_2 = 0.5 ** 0.5


def ply_to_spz(ply: Path, spz: Path) -> None:
    export_file(scene_from_ply(ply), "spz", spz)


def decode_spz(data: bytes) -> dict:
    raw = gzip.decompress(data)
    magic, version, n = struct.unpack_from("<III", raw, 0)
    degree, bits, flags, reserved = raw[12:16]
    assert (magic, version, flags, reserved) == (0x5053474E, 3, 0, 0)
    dim = {0: 0, 1: 3, 2: 8, 3: 15}[degree]
    offset = 16

    def take(count: int) -> bytes:
        nonlocal offset
        chunk = raw[offset: offset + count]
        offset += count
        return chunk

    pos_bytes = take(9 * n)
    positions = np.empty((n, 3))
    for i in range(n * 3):
        b = pos_bytes[3 * i: 3 * i + 3]
        value = b[0] | (b[1] << 8) | (b[2] << 16)
        if value & 0x800000:
            value -= 1 << 24
        positions[i // 3, i % 3] = value / (1 << bits)
    alphas = np.frombuffer(take(n), np.uint8) / 255.0
    colors = np.frombuffer(take(3 * n), np.uint8).reshape(n, 3)
    f_dc = (colors / 255.0 - 0.5) / 0.15
    log_scales = np.frombuffer(take(3 * n), np.uint8).reshape(n, 3) / 16.0 - 10.0
    words = struct.unpack_from(f"<{n}I", take(4 * n))
    quats = np.empty((n, 4))  # w x y z, as in the PLY
    for i, word in enumerate(words):
        largest = word >> 30
        xyzw = [0.0] * 4
        shift = 20
        for k in range(4):
            if k == largest:
                continue
            field = (word >> shift) & 0x3FF
            shift -= 10
            magnitude = (field & 0x1FF) / 511.0 * SQRT1_2
            xyzw[k] = -magnitude if field & 0x200 else magnitude
        xyzw[largest] = max(0.0, 1.0 - sum(v * v for v in xyzw)) ** 0.5
        quats[i] = [xyzw[3], xyzw[0], xyzw[1], xyzw[2]]
    sh = np.frombuffer(take(n * dim * 3), np.uint8).reshape(n, dim, 3)
    assert offset == len(raw), "trailing bytes after the last array"
    return {"n": n, "bits": bits, "degree": degree, "positions": positions, "alphas": alphas,
            "f_dc": f_dc, "log_scales": log_scales, "quats": quats, "sh": (sh.astype(float) - 128) / 128}


def random_scene(n: int, seed: int = 0, extent: float = 20.0) -> Gaussians:
    rng = np.random.default_rng(seed)
    quats = rng.normal(size=(n, 4)).astype(np.float32)
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    return Gaussians(
        mean_vectors=(rng.uniform(-extent, extent, size=(n, 3))).astype(np.float32),
        singular_values=np.exp(rng.uniform(-7, 1, size=(n, 3))).astype(np.float32),
        quaternions=quats,
        colors=rng.uniform(0, 1, size=(n, 3)).astype(np.float32),
        opacities=rng.uniform(0.01, 0.99, size=n).astype(np.float32),
    )


def same_rotation_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle-like distance between unit quaternions, blind to the q / -q ambiguity."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return 1.0 - np.abs(np.sum(a * b, axis=1))


def test_round_trip_within_quantisation(tmp_path: Path) -> None:
    scene = random_scene(500)
    ply = save_ply(scene, 800.0, 640, 480, tmp_path / "scene.ply")
    ply_to_spz(ply, tmp_path / "scene.spz")
    decoded = decode_spz((tmp_path / "scene.spz").read_bytes())
    rows = read_ply_vertices(ply)

    assert decoded["n"] == 500 and decoded["degree"] == 0
    assert decoded["bits"] == 12  # +-20 m fits the finest step
    expected_pos = np.stack([rows["x"], rows["y"], rows["z"]], axis=1)
    assert np.abs(decoded["positions"] - expected_pos).max() <= 0.5 / 4096 + 1e-9
    opacity = 1 / (1 + np.exp(-rows["opacity"].astype(float)))
    assert np.abs(decoded["alphas"] - opacity).max() <= 0.5 / 255 + 1e-6
    f_dc = np.stack([rows[f"f_dc_{i}"] for i in range(3)], axis=1)
    in_range = np.abs(f_dc) < 127.5 / (0.15 * 255)
    assert np.abs(decoded["f_dc"] - f_dc)[in_range].max() <= 0.5 / (0.15 * 255) + 1e-6
    log_s = np.stack([rows[f"scale_{i}"] for i in range(3)], axis=1)
    assert np.abs(decoded["log_scales"] - log_s).max() <= 0.5 / 16 + 1e-6
    quats = np.stack([rows[f"rot_{i}"] for i in range(4)], axis=1).astype(float)
    # 9-bit components: each is off by at most half a step of 1/(511 sqrt 2).
    assert same_rotation_error(decoded["quats"], quats).max() < 1e-4


def test_wide_scene_lowers_fractional_bits(tmp_path: Path) -> None:
    scene = random_scene(64, seed=1, extent=5000.0)  # beyond the +-2048 m of 12 fractional bits
    ply = save_ply(scene, 500.0, 64, 64, tmp_path / "wide.ply")
    ply_to_spz(ply, tmp_path / "wide.spz")
    decoded = decode_spz((tmp_path / "wide.spz").read_bytes())
    assert decoded["bits"] < 12
    rows = read_ply_vertices(ply)
    expected = np.stack([rows["x"], rows["y"], rows["z"]], axis=1)
    assert np.abs(decoded["positions"] - expected).max() <= 0.5 / (1 << decoded["bits"]) + 1e-6


def test_smallest_three_handles_every_largest_component(tmp_path: Path) -> None:
    # One quaternion dominated by each of w, x, y, z, with both signs, plus an unnormalised one.
    wxyz = np.array([
        [0.9, 0.1, -0.3, 0.2], [-0.9, 0.1, -0.3, 0.2], [0.1, 0.95, 0.2, -0.1], [0.2, -0.1, -0.97, 0.05],
        [-0.05, 0.2, 0.1, -0.96], [0.5, 0.5, 0.5, 0.5], [3.0, 0.0, 4.0, 0.0],
    ], dtype=np.float32)
    n = len(wxyz)
    scene = Gaussians(
        mean_vectors=np.zeros((n, 3), np.float32) + [0, 0, 2],
        singular_values=np.full((n, 3), 0.01, np.float32),
        quaternions=wxyz,
        colors=np.full((n, 3), 0.5, np.float32),
        opacities=np.full(n, 0.5, np.float32),
    )
    ply = save_ply(scene, 100.0, 8, 8, tmp_path / "q.ply")
    ply_to_spz(ply, tmp_path / "q.spz")
    decoded = decode_spz((tmp_path / "q.spz").read_bytes())
    assert same_rotation_error(decoded["quats"], wxyz.astype(float)).max() < 1e-4


def _write_generic_ply(path: Path, columns: dict[str, np.ndarray], before: bytes = b"") -> None:
    n = len(next(iter(columns.values())))
    header = ["ply", "format binary_little_endian 1.0", "comment made by another tool"]
    if before:
        header += ["element camera 1", "property double fx", "property uchar flag"]
    header += [f"element vertex {n}"] + [f"property float {name}" for name in columns] + ["end_header"]
    table = np.stack([columns[name] for name in columns], axis=1).astype("<f4")
    path.write_bytes(("\n".join(header) + "\n").encode() + before + table.tobytes())


def test_other_tools_ply_with_spherical_harmonics(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 40
    cols = {name: rng.normal(size=n).astype(np.float32) for name in ("x", "y", "z", "opacity")}
    cols.update({f"f_dc_{i}": rng.normal(size=n).astype(np.float32) for i in range(3)})
    cols.update({f"scale_{i}": rng.uniform(-6, 0, n).astype(np.float32) for i in range(3)})
    cols.update({f"rot_{i}": rng.normal(size=n).astype(np.float32) for i in range(4)})
    rest = rng.uniform(-0.9, 0.9, size=(n, 45)).astype(np.float32)
    cols.update({f"f_rest_{j}": rest[:, j] for j in range(45)})
    ply = tmp_path / "other.ply"
    _write_generic_ply(ply, cols, before=struct.pack("<dB", 1234.5, 7))
    ply_to_spz(ply, tmp_path / "other.spz")
    decoded = decode_spz((tmp_path / "other.spz").read_bytes())
    assert decoded["degree"] == 3
    expected = rest.reshape(n, 3, 15).transpose(0, 2, 1)  # PLY channel-major -> coefficient-major
    err = np.abs(decoded["sh"] - expected)
    assert err[:, :3].max() <= 8 / 128  # 5-bit buckets for degree 1
    assert err[:, 3:].max() <= 16 / 128  # 4-bit buckets above
    assert np.abs(decoded["positions"][:, 0] - cols["x"]).max() <= 0.5 / 4096 + 1e-6


def test_non_finite_values_become_invisible_not_errors(tmp_path: Path) -> None:
    cols = {name: np.zeros(3, np.float32) for name in
            ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
             "rot_0", "rot_1", "rot_2", "rot_3"]}
    cols["x"] = np.array([np.nan, 1.0, 2.0], np.float32)
    cols["opacity"] = np.array([5.0, np.inf, -np.inf], np.float32)
    cols["scale_0"] = np.array([0.0, -np.inf, np.nan], np.float32)  # log(0) from a zero singular value
    ply = tmp_path / "odd.ply"
    _write_generic_ply(ply, cols)
    ply_to_spz(ply, tmp_path / "odd.spz")
    decoded = decode_spz((tmp_path / "odd.spz").read_bytes())
    assert decoded["alphas"].tolist() == [0.0, 1.0, 0.0]
    assert np.isfinite(decoded["positions"]).all()
    np.testing.assert_allclose(decoded["quats"][1], [1, 0, 0, 0], atol=1e-6)  # zero quaternion -> identity


@pytest.mark.parametrize("content, message", [
    (b"not a ply at all", "not a PLY"),
    (b"ply\nformat ascii 1.0\nelement vertex 0\nend_header\n", "binary_little_endian"),
    (b"ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\nend_header\n",
     "lack Gaussian-splat properties"),
    (b"ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int vertex_indices\n"
     b"end_header\n", "list properties"),
])
def test_rejects_what_it_cannot_read_and_leaves_nothing(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.ply"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        ply_to_spz(bad, tmp_path / "bad.spz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ply"]


def test_truncated_ply_is_rejected(tmp_path: Path) -> None:
    ply = save_ply(random_scene(10), 100.0, 8, 8, tmp_path / "t.ply")
    data = ply.read_bytes()
    ply.write_bytes(data[: data.index(b"end_header\n") + 11 + 100])  # header + 100 of 560 vertex bytes
    with pytest.raises(ValueError, match="truncated"):
        ply_to_spz(ply, tmp_path / "t.spz")
    assert not (tmp_path / "t.spz").exists()


def test_much_smaller_than_the_ply(tmp_path: Path) -> None:
    # A smooth, photo-like scene (neighbours similar), as SHARP and the preview produce.
    side = 60
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    n = side * side
    z = (2.0 + xs).ravel()
    scene = Gaussians(
        mean_vectors=np.stack([(xs.ravel() - 0.5) * z, (ys.ravel() - 0.5) * z, z], axis=1).astype(np.float32),
        singular_values=np.stack([z * 0.01, z * 0.01, z * 0.002], axis=1).astype(np.float32),
        quaternions=np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)),
        colors=np.stack([xs.ravel(), ys.ravel(), np.full(n, 0.3)], axis=1).astype(np.float32),
        opacities=np.full(n, 0.95, np.float32),
    )
    ply = save_ply(scene, 100.0, side, side, tmp_path / "s.ply")
    ply_to_spz(ply, tmp_path / "s.spz")
    assert (tmp_path / "s.spz").stat().st_size * 4 < ply.stat().st_size
