"""Density control: keep the N Gaussians that matter most to the picture from the photo's viewpoint.

Why not a random subset: a phone or a VR headset can draw a few hundred thousand splats, and
SHARP makes 1.18 M; most of the picture comes from the opaque, large-on-screen ones, while many are
faint or tiny. The importance of a Gaussian is its opacity times its projected footprint on the
photo's image plane (the area of the 1-sigma ellipse of its 2D covariance, in pixels), which is
roughly how much colour it contributes to the photo-viewpoint render. Importances within 1% of
each other count as equal, and among equals a fixed pseudo-random order decides: thinning a
region of alike Gaussians then spreads evenly instead of cutting away whatever comes last in the
file (by index, a uniform scene would lose the bottom of the picture). Fixed seed, stable sorts:
the result is deterministic. The kept Gaussians stay in their original order (SHARP's grid
order, which compact formats rely on for tight chunk bounds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sharpnet.io.columns import splat_columns

if TYPE_CHECKING:
    from sharpnet.io.registry import Scene

PRESETS = (500_000, 200_000, 100_000)  # what the page offers besides "full"
_CHUNK = 1 << 18
_EQUAL = 0.01  # importances within 1% are alike
_TIE_SEED = 20250101  # fixed: the same scene is always reduced the same way


def _rotation_matrices(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def importance(vertices: np.ndarray, f_px: float = 1.0) -> np.ndarray:
    """(N,) float64: opacity x projected footprint area (pixels^2) from a camera at the origin
    looking down +z (OpenCV axes, SHARP's frame); 0 for Gaussians at or behind the camera."""
    cols = splat_columns(vertices)
    n = len(cols)
    out = np.zeros(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        p = cols.positions[sl].astype(np.float64)
        z = p[:, 2]
        front = z > 1e-6
        zs = np.where(front, z, 1.0)
        jac = np.zeros((len(z), 2, 3))
        jac[:, 0, 0] = jac[:, 1, 1] = f_px / zs
        jac[:, 0, 2] = -f_px * p[:, 0] / zs**2
        jac[:, 1, 2] = -f_px * p[:, 1] / zs**2
        m = _rotation_matrices(cols.quaternions[sl].astype(np.float64)) * np.exp(cols.log_scales[sl])[:, None, :]
        jm = jac @ m  # (n, 2, 3): the projected principal axes
        cov = jm @ jm.transpose(0, 2, 1)
        det = np.clip(cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] ** 2, 0.0, None)
        out[sl] = np.where(front, cols.alpha[sl] * np.pi * np.sqrt(det), 0.0)
    return out


def keep_indices(vertices: np.ndarray, max_gaussians: int, f_px: float = 1.0) -> np.ndarray:
    """Sorted indices of the ``max_gaussians`` most important Gaussians (all when there are fewer)."""
    if max_gaussians < 1:
        raise ValueError(f"max_gaussians must be at least 1, got {max_gaussians}")
    n = len(vertices)
    if max_gaussians >= n:
        return np.arange(n)
    score = importance(vertices, f_px)
    with np.errstate(divide="ignore"):
        level = np.where(score > 0, np.floor(np.log(np.where(score > 0, score, 1.0)) / np.log1p(_EQUAL)), -np.inf)
    shuffle = np.random.default_rng(_TIE_SEED).permutation(n)
    order = np.lexsort((shuffle, -level))  # by level (high first), then the fixed shuffle
    return np.sort(order[:max_gaussians])


def reduce_scene(scene: "Scene", max_gaussians: int) -> "Scene":
    from sharpnet.io.registry import Scene

    f_px = scene.metadata.focal_length_px if scene.metadata is not None else 1.0
    keep = keep_indices(scene.vertices, max_gaussians, f_px)
    if len(keep) == len(scene):
        return scene
    return Scene(scene.vertices[keep], scene.metadata)
