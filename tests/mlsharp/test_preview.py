"""The embedded preview backend: reference PLY layout, determinism, and 'seen from the camera it is the photo'."""

from __future__ import annotations

import numpy as np
import pytest
from plyfile import PlyData

from mlsharp.backends.base import BackendSpec, load_backend
from mlsharp.backends.preview import (
    DEPTH_MAX,
    DEPTH_MIN,
    IDENTITY,
    grid_shape,
    preview_gaussians,
    prior_depth,
)
from sharpnet.utils.color import linear_to_srgb
from sharpnet.io.ply import VERTEX_PROPERTIES, read_ply, save_ply
from svc_helpers import block_photo


def test_output_is_the_reference_ply_layout(tmp_path, photo_rgb):
    f_px = 80.0
    gaussians = preview_gaussians(photo_rgb, f_px, 512)
    path = save_ply(gaussians, f_px, photo_rgb.shape[1], photo_rgb.shape[0], tmp_path / "p.ply")
    ply = PlyData.read(str(path))
    names = [e.name for e in ply.elements]
    assert names == ["vertex", "extrinsic", "intrinsic", "image_size", "frame", "disparity",
                     "color_space", "version"]
    assert [p.name for p in ply["vertex"].properties] == VERTEX_PROPERTIES
    assert ply["vertex"].count == len(gaussians)
    assert list(ply["image_size"]["image_size"]) == [96, 64]
    assert ply["intrinsic"]["intrinsic"][0] == pytest.approx(f_px)
    back, meta = read_ply(path)
    np.testing.assert_allclose(back.mean_vectors, gaussians.mean_vectors)
    assert meta.image_width == 96 and meta.image_height == 64


def test_values_are_sane(photo_rgb):
    g = preview_gaussians(photo_rgb, 80.0, 512)
    assert g.mean_vectors.dtype == np.float32 and len(g) > 0
    assert np.all(np.isfinite(g.mean_vectors))
    z = g.mean_vectors[:, 2]
    assert z.min() >= DEPTH_MIN and z.max() <= DEPTH_MAX
    assert np.all(g.singular_values > 0)
    assert np.all((g.opacities > 0) & (g.opacities < 1))
    assert np.all((g.colors >= 0) & (g.colors <= 1))
    np.testing.assert_allclose(np.linalg.norm(g.quaternions, axis=1), 1.0, rtol=1e-6)


def test_deterministic(photo_rgb):
    a = preview_gaussians(photo_rgb, 80.0, 512)
    b = preview_gaussians(photo_rgb.copy(), 80.0, 512)
    for name in ("mean_vectors", "singular_values", "quaternions", "colors", "opacities"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_projected_with_f_px_the_scene_lands_on_the_photo_colours():
    """Project each mean back with the photo's intrinsics: the pixel there has the Gaussian's colour."""
    rgb = block_photo(width=192, height=144, block=24)
    height, width = rgb.shape[:2]
    f_px = 150.0
    # input 96 -> a 32 x 24 grid of 6 px cells: each lies inside one 24 px colour block.
    g = preview_gaussians(rgb, f_px, 96)
    assert len(g) == 32 * 24
    x, y, z = g.mean_vectors.T.astype(np.float64)
    u = f_px * x / z + width / 2.0
    v = f_px * y / z + height / 2.0
    assert u.min() > 0 and u.max() < width and v.min() > 0 and v.max() < height
    cols = np.floor(u).astype(int)
    rows = np.floor(v).astype(int)
    photo = rgb[rows, cols].astype(np.float64)
    rendered = linear_to_srgb(g.colors.astype(np.float64)) * 255.0
    error = np.abs(photo - rendered).max(axis=1)
    assert error.max() < 0.5  # within rounding of the 8-bit photo


def test_nearer_at_the_bottom_and_centre_than_at_the_top_corners():
    assert prior_depth(np.array(0.0), np.array(0.5)) < prior_depth(np.array(0.0), np.array(-0.5))
    assert prior_depth(np.array(0.0), np.array(0.0)) < prior_depth(np.array(0.6), np.array(-0.4))


@pytest.mark.parametrize(("w", "h", "size", "expected"), [
    (640, 480, 1536, (512, 384)),
    (480, 640, 1536, (384, 512)),
    (100, 50, 1536, (100, 50)),  # never finer than the photo
    (4000, 3000, 512, (170, 128)),
])
def test_grid_follows_the_input_size_and_aspect(w, h, size, expected):
    assert grid_shape(w, h, size) == expected


def test_denser_for_a_larger_input_size():
    rgb = block_photo(640, 480)
    assert len(preview_gaussians(rgb, 500.0, 1536)) > len(preview_gaussians(rgb, 500.0, 512))


def test_rejects_wrong_input():
    with pytest.raises(ValueError):
        preview_gaussians(np.zeros((10, 10), np.uint8), 10.0, 512)
    with pytest.raises(ValueError):
        preview_gaussians(np.zeros((10, 10, 3), np.uint8), 0.0, 512)


def test_loaded_through_the_backend_interface(photo_rgb):
    backend = load_backend(BackendSpec(name="preview", identity=IDENTITY))
    assert backend.name == "preview"
    assert len(backend.predict(photo_rgb, 80.0, 512)) == len(preview_gaussians(photo_rgb, 80.0, 512))
