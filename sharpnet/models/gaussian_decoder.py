"""Gaussian decoder: turns monodepth features + (RGB, disparity) into texture and geometry features."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from sharpnet.config import GaussianDecoderConfig
from sharpnet.models.blocks import FusionBlock, MultiresConvDecoder, norm_act_conv_block, run_in_strips


class ImageFeatures(NamedTuple):
    texture: torch.Tensor
    geometry: torch.Tensor


class SkipConv(nn.Module):
    """A strided conv bringing the raw input to the decoder's resolution and width."""

    def __init__(self, dim_in: int, dim_out: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim_in, dim_out, kernel_size=stride, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _feature_head(dim: int, dim_out: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        norm_act_conv_block(dim, dim, groups, dim_hidden=dim // 2),
        norm_act_conv_block(dim, dim, groups, dim_hidden=dim // 2),
        nn.ReLU(),
        nn.Conv2d(dim, dim_out, 1),
        nn.ReLU(),
    )


class GaussianDecoder(nn.Module):
    def __init__(self, cfg: GaussianDecoderConfig, dims_features: tuple[int, ...]) -> None:
        super().__init__()
        if cfg.stride != 2:
            raise ValueError("only a stride-2 Gaussian decoder (the released model's) is supported")
        self.decoder = MultiresConvDecoder(dims_features, cfg.dims_decoder)
        width = self.decoder.dim_out
        self.image_encoder = SkipConv(cfg.dim_in, width, cfg.stride)
        self.fusion = FusionBlock(width)
        self.texture_head = _feature_head(width, cfg.dim_out, cfg.norm_num_groups)
        self.geometry_head = _feature_head(width, cfg.dim_out, cfg.norm_num_groups)
        # >1: the fusion with the image skip (no normalisation, receptive radius 4 rows) runs in row
        # strips. The heads cannot: their GroupNorm takes statistics over the whole image.
        self.strips = 1

    def forward(self, feature_input: torch.Tensor, encodings: list[torch.Tensor]) -> ImageFeatures:
        features = run_in_strips(self.fusion, [self.decoder(encodings), self.image_encoder(feature_input)],
                                 self.strips, halo=4)
        return ImageFeatures(self.texture_head(features), self.geometry_head(features))


class DirectPredictionHead(nn.Module):
    """1x1 convs giving per-layer deltas: 3 for the mean, 11 for scale, rotation, colour, opacity."""

    GEOMETRY = 3
    TEXTURE = 11

    def __init__(self, feature_dim: int, num_layers: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.geometry_prediction_head = nn.Conv2d(feature_dim, self.GEOMETRY * num_layers, 1)
        self.texture_prediction_head = nn.Conv2d(feature_dim, self.TEXTURE * num_layers, 1)
        for conv in (self.geometry_prediction_head, self.texture_prediction_head):
            nn.init.zeros_(conv.weight)  # start from the base Gaussians
            nn.init.zeros_(conv.bias)

    def forward(self, features: ImageFeatures) -> torch.Tensor:
        """(B, 14, num_layers, H, W): channel-major, layer-minor within each conv's output."""
        geometry = self.geometry_prediction_head(features.geometry)
        texture = self.texture_prediction_head(features.texture)
        geometry = geometry.unflatten(1, (self.GEOMETRY, self.num_layers))
        texture = texture.unflatten(1, (self.TEXTURE, self.num_layers))
        return torch.cat([geometry, texture], dim=1)
