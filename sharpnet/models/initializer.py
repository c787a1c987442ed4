"""Base Gaussians laid on the predicted depth layers (no weights).

One Gaussian per ``stride`` x ``stride`` pixel block and depth layer: positioned at the block centre
in NDC at the block's nearest disparity, sized to cover the block, coloured by the block's mean,
half opaque. Depth is first rescaled so its minimum is 1 (numerically friendly for the decoder);
``global_scale`` undoes that at the end.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from sharpnet.config import InitializerConfig


class BaseValues(NamedTuple):
    """Each (B, C, L, h, w), with C = 1 where a value is shared or broadcast."""

    x_ndc: torch.Tensor
    y_ndc: torch.Tensor
    disparity: torch.Tensor
    scales: torch.Tensor
    quaternions: torch.Tensor
    colors: torch.Tensor
    opacities: torch.Tensor


class InitializerOutput(NamedTuple):
    base: BaseValues
    feature_input: torch.Tensor  # (B, 3 + layers, H, W) in [-1, 1]: RGB and normalised disparity
    global_scale: torch.Tensor  # (B,)


def rescale_depth(depth: torch.Tensor, depth_min: float, depth_max: float) -> tuple[torch.Tensor, torch.Tensor]:
    factor = depth_min / (depth.flatten(1).min(dim=-1).values + 1e-6)
    return (depth * factor[:, None, None, None]).clamp(max=depth_max), factor


def initialize(image: torch.Tensor, depth: torch.Tensor, cfg: InitializerConfig) -> InitializerOutput:
    """``image`` (B, 3, H, W) in [0, 1]; ``depth`` (B, layers, H, W), metric, one map per layer."""
    batch, _, height, width = depth.shape
    stride, layers = cfg.stride, cfg.num_layers
    if depth.shape[1] not in (1, layers):
        raise ValueError(f"depth has {depth.shape[1]} layers, the initializer expects {layers}")
    depth, factor = rescale_depth(depth, cfg.depth_min, cfg.depth_max)

    # The nearest surface in each block: max-pool of disparity, per layer.
    disparity = F.max_pool2d(1.0 / depth, stride, stride).unsqueeze(1)
    if disparity.shape[2] != layers:
        disparity = disparity.expand(-1, -1, layers, -1, -1)

    xs = torch.arange(0.5 * stride, width, stride, device=depth.device)
    ys = torch.arange(0.5 * stride, height, stride, device=depth.device)
    xs, ys = torch.meshgrid(2 * xs / width - 1.0, 2 * ys / height - 1.0, indexing="xy")
    grid_shape = (batch, 1, layers) + xs.shape
    x_ndc = xs.expand(grid_shape)
    y_ndc = ys.expand(grid_shape)

    scales = (1.0 / disparity) * (2 * cfg.scale_factor * stride / float(width))
    quaternions = torch.tensor([1.0, 0.0, 0.0, 0.0], device=depth.device)[None, :, None, None, None]
    opacities = torch.tensor([min(1.0 / layers, 0.5)], device=depth.device)
    colors = F.avg_pool2d(image, stride, stride).unsqueeze(2).expand(-1, -1, layers, -1, -1)

    feature_input = torch.cat([image, cfg.disparity_factor / depth], dim=1) * 2.0 - 1.0
    base = BaseValues(x_ndc, y_ndc, disparity, scales, quaternions, colors, opacities)
    return InitializerOutput(base, feature_input, 1.0 / factor)
