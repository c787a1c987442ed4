"""Every export read back by an independent implementation: PlayCanvas's splat-transform CLI.

splat-transform (installed by run_tests.sh from tools/splat-transform/package-lock.json) converts
our .splat, .spz and compressed .ply back to a plain .ply, which plyfile reads; each attribute must
match what we wrote within that format's quantisation step. Our own .ply goes through plyfile
directly and through splat-transform too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sharpnet.gaussians import Gaussians
from sharpnet.io.columns import SH_C0, splat_columns
from sharpnet.io.registry import FORMATS, export_file, scene_from_gaussians

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "tools" / "splat-transform" / "node_modules" / ".bin" / "splat-transform"
plyfile = pytest.importorskip("plyfile")


@pytest.fixture(scope="module")
def splat_transform() -> Path:
    if not CLI.is_file():
        pytest.skip(f"{CLI.relative_to(REPO)} not installed (./run_tests.sh installs it with npm)")
    return CLI


def make_scene(n: int = 3000, seed: int = 7) -> Gaussians:
    """Grid-ordered like SHARP (neighbours alike), with every quaternion sign/largest case."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    u, v = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-0.75, 0.75, side))
    z = 2.0 + 0.5 * np.sin(3 * u) * np.cos(2 * v)
    means = np.stack([u * z, v * z, z], axis=-1).reshape(-1, 3)[:n] + rng.normal(0, 0.01, (n, 3))
    return Gaussians(
        mean_vectors=means.astype(np.float32),
        singular_values=np.exp(rng.uniform(-6, -2, (n, 3))).astype(np.float32),
        quaternions=rng.normal(size=(n, 4)).astype(np.float32),
        colors=rng.uniform(0.02, 0.98, (n, 3)).astype(np.float32),
        opacities=rng.uniform(0.02, 0.98, n).astype(np.float32),
    )


def read_back(cli: Path, source: Path, tmp_path: Path) -> dict[str, np.ndarray]:
    target = tmp_path / f"back-{source.name.replace('.', '_')}.ply"
    done = subprocess.run([str(cli), "-q", "-w", str(source), str(target)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    vertex = plyfile.PlyData.read(str(target))["vertex"].data
    return {name: np.asarray(vertex[name], dtype=np.float64) for name in vertex.dtype.names}


def decoded(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    q = np.stack([cols[f"rot_{i}"] for i in range(4)], axis=1)
    return {
        "positions": np.stack([cols["x"], cols["y"], cols["z"]], axis=1),
        "rgb": 0.5 + SH_C0 * np.stack([cols[f"f_dc_{i}"] for i in range(3)], axis=1),
        "alpha": 1.0 / (1.0 + np.exp(-cols["opacity"])),
        "log_scales": np.stack([cols[f"scale_{i}"] for i in range(3)], axis=1),
        "quaternions": q / np.linalg.norm(q, axis=1, keepdims=True),
    }


def chunk_steps(values: np.ndarray, bits: tuple[int, int, int]) -> np.ndarray:
    """Per-Gaussian quantisation step of compressed PLY: its 256-chunk's range over 2^bits - 1."""
    n = len(values)
    steps = np.empty_like(values)
    for start in range(0, n, 256):
        block = values[start:start + 256]
        steps[start:start + 256] = (block.max(axis=0) - block.min(axis=0)) / (np.array([2.0**b - 1 for b in bits]))
    return steps


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], dict[str, np.ndarray]]:
    folder = tmp_path_factory.mktemp("exports")
    scene = scene_from_gaussians(make_scene(), 600.0, 80, 60)
    paths = {name: export_file(scene, fmt, folder / f"scene{fmt.suffix}") for name, fmt in FORMATS.items()}
    c = splat_columns(scene.vertices)
    truth = {"positions": c.positions.astype(np.float64), "rgb": c.rgb01.astype(np.float64),
             "alpha": c.alpha, "log_scales": c.log_scales.astype(np.float64),
             "quaternions": c.quaternions.astype(np.float64)}
    return paths, truth


def rotation_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1.0 - np.abs(np.einsum("ij,ij->i", a, b))  # q and -q are one rotation


def test_ply_reads_back_exactly_with_plyfile(written) -> None:
    paths, truth = written
    data = plyfile.PlyData.read(str(paths["ply"]))
    got = decoded({n: np.asarray(data["vertex"][n], dtype=np.float64) for n in data["vertex"].data.dtype.names})
    assert len(got["positions"]) == len(truth["positions"])
    np.testing.assert_array_equal(got["positions"], truth["positions"])
    np.testing.assert_allclose(got["rgb"], truth["rgb"], atol=1e-6)
    np.testing.assert_allclose(got["alpha"], truth["alpha"], atol=1e-6)
    assert [e.name for e in data.elements][:2] == ["vertex", "extrinsic"]


@pytest.mark.parametrize("name", ["ply", "splat", "spz", "compressed.ply"])
def test_splat_transform_reads_every_format(splat_transform, written, tmp_path, name) -> None:
    paths, truth = written
    got = decoded(read_back(splat_transform, paths[name], tmp_path))
    n = len(truth["positions"])
    assert len(got["positions"]) == n  # counts, and the order is kept (compared row by row below)
    if name == "ply":
        tol = {"positions": 1e-6, "rgb": 1e-5, "alpha": 1e-5, "log_scales": 1e-5, "rot": 1e-6}
    elif name == "splat":  # float32 positions and scales; 8-bit colour, alpha, quaternion components
        tol = {"positions": 1e-6, "rgb": 0.5 / 255 + 1e-6, "alpha": 0.5 / 255 + 1e-6, "log_scales": 1e-5,
               "rot": 2e-4}
    elif name == "spz":  # 12 fractional bits here, colour as f_dc * 0.15 in 8 bits, log scale / 16
        tol = {"positions": 0.5 / 4096 + 1e-6, "rgb": SH_C0 * 0.5 / (0.15 * 255) + 1e-6,
               "alpha": 0.5 / 255 + 1e-6, "log_scales": 0.5 / 16 + 1e-6, "rot": 2e-5}
    else:  # per-256-chunk ranges: 11/10/11 bits for positions and log scales, 8 bits for colour
        tol = {"positions": 0.5 * chunk_steps(truth["positions"], (11, 10, 11)) + 1e-6,
               "rgb": 0.5 * chunk_steps(truth["rgb"], (8, 8, 8)) + 1e-6,
               "alpha": 0.5 / 255 + 1e-6,
               "log_scales": 0.5 * chunk_steps(truth["log_scales"], (11, 10, 11)) + 1e-5,
               "rot": 1e-5}
    for key in ("positions", "rgb", "alpha", "log_scales"):
        error = np.abs(got[key] - truth[key])
        assert np.all(error <= tol[key]), f"{name} {key}: worst error {error.max():.3g}"
    worst = rotation_error(got["quaternions"], truth["quaternions"]).max()
    assert worst <= tol["rot"], f"{name} rotations: worst 1-|dot| {worst:.3g}"
