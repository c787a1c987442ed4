"""Density control keeps the Gaussians that matter to the photo-viewpoint picture, deterministically."""

from __future__ import annotations

import numpy as np

from sharpnet.density import importance, keep_indices, reduce_scene
from sharpnet.gaussians import Gaussians
from sharpnet.io.registry import scene_from_gaussians


def scene(means, sigmas, opacities) -> Gaussians:
    n = len(means)
    return Gaussians(
        mean_vectors=np.array(means, dtype=np.float32),
        singular_values=np.array(sigmas, dtype=np.float32),
        quaternions=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
        colors=np.full((n, 3), 0.5, dtype=np.float32),
        opacities=np.array(opacities, dtype=np.float32),
    )


def test_importance_is_opacity_times_projected_area():
    g = scene(
        means=[[0, 0, 2], [0, 0, 4], [0, 0, 2], [0, 0, 2], [0, 0, -1]],
        sigmas=[[0.1, 0.1, 0.1], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1], [0.01, 0.01, 0.5], [1, 1, 1]],
        opacities=[0.9, 0.9, 0.1, 0.9, 0.99],
    )
    s = scene_from_gaussians(g, 100.0, 64, 48)
    score = importance(s.vertices, 100.0)
    # On the axis the footprint is pi * (f * sigma / z)^2; depth extent does not count.
    expected_near = 0.9 * np.pi * (100 * 0.1 / 2) ** 2
    assert np.isclose(score[0], expected_near, rtol=1e-3)
    assert np.isclose(score[1], expected_near / 4, rtol=1e-3)  # twice as far: a quarter of the area
    assert np.isclose(score[2], expected_near / 9, rtol=1e-3)  # a ninth of the opacity
    assert score[3] < score[1]  # thin across the view, however deep
    assert score[4] == 0.0  # behind the camera
    assert keep_indices(s.vertices, 2, 100.0).tolist() == [0, 1]


def test_reduction_is_deterministic_keeps_order_and_metadata():
    rng = np.random.default_rng(3)
    n = 5000
    g = scene(rng.normal(0, 1, (n, 3)) + [0, 0, 5], rng.uniform(0.01, 0.2, (n, 3)), rng.uniform(0.05, 0.95, n))
    s = scene_from_gaussians(g, 500.0, 640, 480)
    first, second = reduce_scene(s, 1200), reduce_scene(s, 1200)
    assert len(first) == 1200 and first.vertices.tobytes() == second.vertices.tobytes()
    keep = keep_indices(s.vertices, 1200, 500.0)
    assert np.all(np.diff(keep) > 0)  # original order kept
    score = importance(s.vertices, 500.0)
    assert score[keep].min() >= np.delete(score, keep).max() / 1.02  # alike within 1% may swap
    assert first.metadata == s.metadata
    assert reduce_scene(s, n + 1) is s


def test_alike_gaussians_are_thinned_evenly_not_by_index():
    side = 100
    u, v = np.meshgrid(np.linspace(-0.02, 0.02, side), np.linspace(-0.02, 0.02, side))  # footprints within 1%
    means = np.stack([u.ravel(), v.ravel(), np.full(side * side, 2.0)], 1)
    g = scene(means, np.full((side * side, 3), 0.01), np.full(side * side, 0.5))
    s = scene_from_gaussians(g, 100.0, 64, 48)
    keep = keep_indices(s.vertices, side * side // 4, 100.0)
    rows = keep // side
    assert np.array_equal(keep, keep_indices(s.vertices, side * side // 4, 100.0))  # deterministic
    counts = np.bincount(rows // 25, minlength=4)  # each quarter of the picture keeps about its share
    assert counts.min() > 0.8 * counts.max(), counts
