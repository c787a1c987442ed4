"""The Gaussian scene as plain numpy arrays: the hand-off between the network and everything else."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Gaussians:
    """N Gaussians in metric camera space (OpenCV axes: x right, y down, z forward).

    Colours are linear RGB in [0, 1]; the PLY writer converts them to sRGB as the reference does.
    Quaternions are (w, x, y, z). Everything is float32 so a scene of ~1.2M Gaussians stays ~66 MB.
    """

    mean_vectors: np.ndarray  # (N, 3)
    singular_values: np.ndarray  # (N, 3), standard deviations along the principal axes
    quaternions: np.ndarray  # (N, 4), w first
    colors: np.ndarray  # (N, 3), linear RGB
    opacities: np.ndarray  # (N,), in (0, 1)

    def __post_init__(self) -> None:
        n = self.mean_vectors.shape[0]
        expected = {
            "mean_vectors": (n, 3),
            "singular_values": (n, 3),
            "quaternions": (n, 4),
            "colors": (n, 3),
            "opacities": (n,),
        }
        for name, shape in expected.items():
            value = getattr(self, name)
            if value.shape != shape:
                raise ValueError(f"Gaussians.{name} has shape {value.shape}, expected {shape}")

    def __len__(self) -> int:
        return int(self.mean_vectors.shape[0])
