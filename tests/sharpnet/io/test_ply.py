"""The PLY writer: reference layout, lossless round trip, atomic writes."""

import numpy as np
import pytest

from sharpnet.gaussians import Gaussians
from sharpnet.io.ply import ply_bytes, ply_header, read_ply, save_ply, vertex_rows


def scene(n: int = 500, seed: int = 0) -> Gaussians:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4)).astype(np.float32)
    return Gaussians(
        mean_vectors=(rng.normal(size=(n, 3)) + [0, 0, 4]).astype(np.float32),
        singular_values=rng.uniform(0.01, 0.2, size=(n, 3)).astype(np.float32),
        quaternions=q / np.linalg.norm(q, axis=1, keepdims=True),
        colors=rng.uniform(0, 1, size=(n, 3)).astype(np.float32),
        opacities=rng.uniform(0.05, 0.95, size=n).astype(np.float32),
    )


def test_header_is_the_reference_layout(tiny_a_dir):
    assert ply_header(1179648) == (tiny_a_dir / "expected_ply_header.txt").read_bytes()


def test_round_trip_through_bytes_and_plyfile(tmp_path):
    plyfile = pytest.importorskip("plyfile")
    g = scene()
    path = save_ply(g, 512.0, 640, 480, tmp_path / "s.ply")
    back, meta = read_ply(path)
    np.testing.assert_allclose(back.mean_vectors, g.mean_vectors)
    np.testing.assert_allclose(back.singular_values, g.singular_values, rtol=1e-5)
    np.testing.assert_allclose(back.colors, g.colors, atol=1e-5)
    np.testing.assert_allclose(back.opacities, g.opacities, rtol=1e-5)
    assert (meta.image_width, meta.image_height, meta.focal_length_px) == (640, 480, 512.0)
    assert meta.version == (1, 5, 0) and meta.color_space == 0
    disparity = 1.0 / g.mean_vectors[:, 2]
    np.testing.assert_allclose(meta.disparity_quantiles, np.quantile(disparity, [0.1, 0.9]), rtol=1e-6)
    # An independent reader sees the same rows and elements.
    data = plyfile.PlyData.read(str(path))
    assert [e.name for e in data.elements] == [
        "vertex", "extrinsic", "intrinsic", "image_size", "frame", "disparity", "color_space", "version"]
    assert data["vertex"].count == len(g)
    np.testing.assert_array_equal(np.asarray(data["vertex"]["x"]), g.mean_vectors[:, 0])
    np.testing.assert_array_equal(np.asarray(data["frame"]["frame"]), [1, len(g)])
    rows = vertex_rows(g)
    np.testing.assert_array_equal(np.asarray(data["vertex"]["scale_1"]), rows[:, 8])


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    target = tmp_path / "scene.ply"
    save_ply(scene(10), 500.0, 64, 48, target)
    before = target.read_bytes()

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("sharpnet.io.ply.ply_tail", broken)
    with pytest.raises(OSError):
        save_ply(scene(20, seed=3), 500.0, 64, 48, target)
    assert target.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.ply"]


def test_read_rejects_foreign_files():
    with pytest.raises(ValueError):
        read_ply(b"not a ply")
    with pytest.raises(ValueError):
        read_ply(ply_bytes(scene(3), 1.0, 2, 2) + b"junk")
