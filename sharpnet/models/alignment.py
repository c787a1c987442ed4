"""Learned depth alignment: a small UNet that predicts a per-pixel scale bringing a predicted depth
onto a reference depth. Only used when a reference depth is supplied (training, or depth sensors);
plain photo inference leaves the monodepth output as it is, as the released pipeline does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sharpnet.config import AlignmentConfig
from sharpnet.models.blocks import norm_act_conv_block


class UNetEncoder(nn.Module):
    def __init__(self, dim_in: int, widths: list[int], groups: int) -> None:
        super().__init__()
        self.conv_in = nn.Sequential(
            nn.Conv2d(dim_in, widths[0], 3, padding=1), nn.GroupNorm(groups, widths[0]), nn.ReLU()
        )
        self.convs_down = nn.ModuleList(
            nn.Sequential(
                nn.AvgPool2d(2, stride=2),
                norm_act_conv_block(w_in, w_out, groups),
                norm_act_conv_block(w_out, w_out, groups),
            )
            for w_in, w_out in zip(widths[:-1], widths[1:])
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.conv_in(x)]
        for down in self.convs_down:
            features.append(down(features[-1]))
        return features


class UNetDecoder(nn.Module):
    def __init__(self, dim_out: int, widths: list[int], steps: int, groups: int) -> None:
        super().__init__()
        rev = widths[::-1][: steps + 1]
        self.convs_up = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2),
                # After the first step the input also carries the encoder's skip features.
                norm_act_conv_block(rev[i] * (1 if i == 0 else 2), rev[i + 1], groups),
                norm_act_conv_block(rev[i + 1], rev[i + 1], groups),
            )
            for i in range(steps)
        )
        self.conv_out = nn.Sequential(
            nn.GroupNorm(groups, rev[-1] * 2),
            nn.ReLU(),
            nn.Conv2d(rev[-1] * 2, dim_out, 1),
            nn.GroupNorm(groups, dim_out),
            nn.ReLU(),
        )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        level = len(features) - 1
        out = self.convs_up[0](features[level])
        for up in self.convs_up[1:]:
            level -= 1
            out = up(torch.cat([out, features[level]], dim=1))
        return self.conv_out(torch.cat([out, features[level - 1]], dim=1))


class ScaleMapEstimator(nn.Module):
    def __init__(self, cfg: AlignmentConfig) -> None:
        super().__init__()
        if cfg.stride & (cfg.stride - 1) or cfg.stride < 1:
            raise ValueError(f"alignment stride {cfg.stride} is not a power of two")
        decoder_steps = cfg.steps - (cfg.stride.bit_length() - 1)
        widths = [min(cfg.base_width << i, 1024) for i in range(cfg.steps + 1)]
        self.encoder = UNetEncoder(2, widths, cfg.norm_num_groups)
        self.decoder = UNetDecoder(widths[0], widths, decoder_steps, cfg.norm_num_groups)
        self.conv_out = nn.Conv2d(widths[0], 1, 1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)  # exp(0) = 1: the identity alignment

    def forward(self, depth_src: torch.Tensor, depth_tgt: torch.Tensor) -> torch.Tensor:
        """Scale map (B, 1, H, W) such that ``scale * depth_src`` approximates ``depth_tgt``."""
        inputs = torch.cat([1.0 / depth_src.clamp(min=1e-4), 1.0 / depth_tgt.clamp(min=1e-4)], dim=1)
        scale = torch.exp(self.conv_out(self.decoder(self.encoder(inputs))))
        if scale.shape[-2:] != depth_src.shape[-2:]:
            scale = F.interpolate(scale, size=depth_src.shape[-2:], mode="bilinear", align_corners=False)
        return scale


class DepthAlignment(nn.Module):
    def __init__(self, cfg: AlignmentConfig) -> None:
        super().__init__()
        self.scale_map_estimator = ScaleMapEstimator(cfg)

    def forward(self, depth: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
        if reference is None:
            return depth
        return self.scale_map_estimator(depth[:, 0:1], reference) * depth
