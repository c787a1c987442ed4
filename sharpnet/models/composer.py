"""Base values + predicted deltas -> Gaussians in NDC (no weights).

x and y are NDC (-1 top-left, +1 bottom-right) times depth, z is metric depth after
``global_scale``. Colours are predicted in sRGB and returned in linear RGB.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from sharpnet.config import ComposerConfig
from sharpnet.models.initializer import BaseValues


class GaussianTensors(NamedTuple):
    """Flattened Gaussians (B, N, ...), N ordered layer, row, column."""

    mean_vectors: torch.Tensor
    singular_values: torch.Tensor
    quaternions: torch.Tensor
    colors: torch.Tensor
    opacities: torch.Tensor


def logit(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x / (1.0 - x))


def inverse_softplus(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    x = x.clamp_min(eps)
    s = torch.sigmoid(-x)
    return x + torch.log(1.0 - s / (1.0 - s))


def srgb_to_linear(srgb: torch.Tensor) -> torch.Tensor:
    power = ((srgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4
    return torch.where(srgb <= 0.04045, srgb / 12.92, power)


def compose(delta: torch.Tensor, base: BaseValues, global_scale: torch.Tensor, cfg: ComposerConfig) -> GaussianTensors:
    """``delta`` (B, 14, L, h, w): mean 0:3, scale 3:6, quaternion 6:10, colour 10:13, opacity 13."""
    x = base.x_ndc + cfg.delta_xy * delta[:, 0:1]
    y = base.y_ndc + cfg.delta_xy * delta[:, 1:2]
    inverse_z = F.softplus(inverse_softplus(base.disparity) + cfg.delta_z * delta[:, 2:3])
    z = 1.0 / (inverse_z + 1e-3)
    means = torch.cat([z * x, z * y, z], dim=1)

    # A Gaussian moved in depth keeps its angular size: rescale the base by the depth change.
    base_scales = base.scales * base.disparity * z
    # Bounded multiplicative scale in (min, max), equal to 1 with unit slope at delta = 0.
    lo, hi = cfg.min_scale, cfg.max_scale
    slope = (hi - lo) / (1.0 - lo) / (hi - 1.0)
    offset = logit(torch.tensor((1.0 - lo) / (hi - lo))).item()
    scales = base_scales * ((hi - lo) * torch.sigmoid(slope * cfg.delta_scale * delta[:, 3:6] + offset) + lo)

    quaternions = base.quaternions + cfg.delta_quaternion * delta[:, 6:10]
    colors = torch.sigmoid(logit(base.colors.clamp(0.01, 0.99)) + cfg.delta_color * delta[:, 10:13])
    colors = srgb_to_linear(colors)
    opacities = torch.sigmoid(logit(base.opacities) + cfg.delta_opacity * delta[:, 13])

    def flat(t: torch.Tensor) -> torch.Tensor:  # (B, C, L, h, w) -> (B, L*h*w, C)
        return t.permute(0, 2, 3, 4, 1).flatten(1, 3)

    scale = global_scale[:, None, None]
    return GaussianTensors(
        mean_vectors=scale * flat(means),
        singular_values=scale * flat(scales),
        quaternions=flat(quaternions),
        colors=flat(colors),
        opacities=opacities.flatten(1, 3),
    )

