"""The embedded ``preview`` backend: the photo's pixels lifted onto a fixed depth prior.

It exists so the service is useful (and testable) before the 2.8 GB SHARP checkpoint is
downloaded. It is deterministic, pure numpy and fast: a grid of area-averaged colours, one
Gaussian per cell, placed along each cell's camera ray at a depth from a simple prior of everyday
photos. Seen from the camera with the photo's focal length, the scene reproduces the photo; seen
from elsewhere it is a plausible relief, nothing more -- which is why responses label it.

Depth prior, as disparity (1/z, metres^-1) so the terms add smoothly:

* a far backdrop: ``1 / BACKDROP_DEPTH`` everywhere;
* a ground plane ``CAMERA_HEIGHT`` below a level camera: ``y / CAMERA_HEIGHT`` for rays below the
  horizon (``y`` = normalised image-plane coordinate, positive downward);
* a soft bump in the middle of the frame, where subjects usually are.

Depths are clamped to SHARP's own range [1, 100] m.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from sharpnet.gaussians import Gaussians
from sharpnet.utils.color import srgb_to_linear

IDENTITY = "preview-v1"  # bump when the output changes, so cached results are not reused
CAMERA_HEIGHT = 1.6  # metres above the ground plane
BACKDROP_DEPTH = 12.0  # metres
SUBJECT_DISPARITY = 0.15  # extra 1/m at the centre of the frame
SUBJECT_WIDTH = 0.25  # std-dev of the bump, in normalised image-plane units
DEPTH_MIN, DEPTH_MAX = 1.0, 100.0
CELLS_PER_INPUT = 3  # grid long side = input_size / 3 (512 cells for the 1536 default)
FOOTPRINT = 0.6  # Gaussian std-dev in cell widths: neighbours overlap without visible gaps
THICKNESS = 0.2  # std-dev along the ray relative to the footprint: thin discs facing the camera
OPACITY = 0.95

_SRGB_TO_LINEAR16 = np.round(
    srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0) * 65535.0
).astype(np.uint16)


def grid_shape(width: int, height: int, input_size: int) -> tuple[int, int]:
    """(columns, rows) of the grid: long side ``input_size / 3``, aspect kept, never finer than the photo."""
    long_side = max(8, input_size // CELLS_PER_INPUT)
    if width >= height:
        cols = min(width, long_side)
        rows = min(height, max(1, round(cols * height / width)))
    else:
        rows = min(height, long_side)
        cols = min(width, max(1, round(rows * width / height)))
    return int(cols), int(rows)


def cell_colors(rgb: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """(rows*cols, 3) linear RGB: the mean of each cell's pixels, averaged in linear light.

    Linear values are held as 16-bit integers for the averaging (PIL box-filters ``I;16`` images
    natively; float images are several times slower on 12 MP photos), which keeps 1/65535 steps.
    """
    linear16 = _SRGB_TO_LINEAR16[rgb]
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(linear16[:, :, c])).resize(
            (cols, rows), Image.Resampling.BOX
        ))
        for c in range(3)
    ]
    colours = np.stack(channels, axis=-1).reshape(-1, 3).astype(np.float32) / 65535.0
    return np.clip(colours, 0.0, 1.0)


def prior_depth(x_n: np.ndarray, y_n: np.ndarray) -> np.ndarray:
    """Depth in metres along normalised image-plane coordinates (x right, y down, z = 1)."""
    disparity = (
        1.0 / BACKDROP_DEPTH
        + np.maximum(y_n, 0.0) / CAMERA_HEIGHT
        + SUBJECT_DISPARITY * np.exp(-(x_n**2 + y_n**2) / (2.0 * SUBJECT_WIDTH**2))
    )
    return np.clip(1.0 / disparity, DEPTH_MIN, DEPTH_MAX)


def preview_gaussians(rgb: np.ndarray, f_px: float, input_size: int) -> Gaussians:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 photo, got {rgb.shape} {rgb.dtype}")
    if not f_px > 0:
        raise ValueError(f"f_px must be positive, got {f_px}")
    height, width = rgb.shape[:2]
    cols, rows = grid_shape(width, height, input_size)
    cell_w, cell_h = width / cols, height / rows
    # Cell centres in pixel coordinates (pixel k spans [k, k+1)); principal point at the centre.
    u = (np.arange(cols, dtype=np.float64) + 0.5) * cell_w
    v = (np.arange(rows, dtype=np.float64) + 0.5) * cell_h
    x_n = (u[None, :] - width / 2.0) / f_px
    y_n = (v[:, None] - height / 2.0) / f_px
    x_n, y_n = np.broadcast_arrays(x_n, y_n)
    z = prior_depth(x_n, y_n)
    means = np.stack([x_n * z, y_n * z, z], axis=-1).reshape(-1, 3)

    footprint = FOOTPRINT * max(cell_w, cell_h) * z.reshape(-1) / f_px  # metres at that depth
    scales = np.stack([footprint, footprint, footprint * THICKNESS], axis=-1)
    n = means.shape[0]
    quaternions = np.zeros((n, 4), dtype=np.float32)
    quaternions[:, 0] = 1.0
    return Gaussians(
        mean_vectors=means.astype(np.float32),
        singular_values=scales.astype(np.float32),
        quaternions=quaternions,
        colors=cell_colors(rgb, cols, rows),
        opacities=np.full(n, OPACITY, dtype=np.float32),
    )


class PreviewBackend:
    """Stateless; the class exists to satisfy :class:`mlsharp.backends.base.Backend`."""

    name = "preview"
    identity = IDENTITY

    def predict(self, rgb: np.ndarray, f_px: float, input_size: int) -> Gaussians:
        return preview_gaussians(rgb, f_px, input_size)
