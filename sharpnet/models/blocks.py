"""Convolutional building blocks shared by the decoders (index layout mirrors the checkpoint)."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """``shortcut(x) + residual(x)``; the shortcut is the identity unless channels change."""

    def __init__(self, residual: nn.Sequential, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.residual = residual
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delta = self.residual(x)
        return (x if self.shortcut is None else self.shortcut(x)) + delta


def norm_act_conv_block(
    dim_in: int, dim_out: int, num_groups: int, dim_hidden: int | None = None
) -> ResidualBlock:
    """Pre-activation residual block: (GroupNorm, ReLU, 3x3 conv) twice."""
    dim_hidden = dim_out // 2 if dim_hidden is None else dim_hidden
    residual = nn.Sequential(
        nn.GroupNorm(num_groups, dim_in),
        nn.ReLU(),
        nn.Conv2d(dim_in, dim_hidden, 3, padding=1),
        nn.GroupNorm(num_groups, dim_hidden),
        nn.ReLU(),
        nn.Conv2d(dim_hidden, dim_out, 3, padding=1),
    )
    shortcut = nn.Conv2d(dim_in, dim_out, 1) if dim_in != dim_out else None
    return ResidualBlock(residual, shortcut)


def act_conv_block(dim: int) -> ResidualBlock:
    """DPT's un-normalised residual unit: (ReLU, 3x3 conv) twice."""
    return ResidualBlock(
        nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(dim, dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(dim, dim, 3, padding=1),
        )
    )


class FusionBlock(nn.Module):
    """DPT feature fusion: add a refined skip input, refine, optionally upsample x2, project."""

    def __init__(self, dim_in: int, dim_out: int | None = None, upsample: bool = False) -> None:
        super().__init__()
        self.resnet1 = act_conv_block(dim_in)
        self.resnet2 = act_conv_block(dim_in)
        # An empty Sequential keeps "deconv" parameter-free where no upsampling happens.
        self.deconv = (
            nn.ConvTranspose2d(dim_in, dim_in, 2, stride=2, bias=False) if upsample else nn.Sequential()
        )
        self.out_conv = nn.Conv2d(dim_in, dim_in if dim_out is None else dim_out, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resnet1(skip)
        return self.out_conv(self.deconv(self.resnet2(x)))


def project_upsample(dim_in: int, dim_out: int, num_upsamples: int, dim_mid: int | None = None) -> nn.Sequential:
    """1x1 projection followed by ``num_upsamples`` stride-2 transposed convolutions (no biases)."""
    dim_mid = dim_out if dim_mid is None else dim_mid
    layers: list[nn.Module] = [nn.Conv2d(dim_in, dim_mid, 1, bias=False)]
    layers += [
        nn.ConvTranspose2d(dim_mid if i == 0 else dim_out, dim_out, 2, stride=2, bias=False)
        for i in range(num_upsamples)
    ]
    return nn.Sequential(*layers)


class MultiresConvDecoder(nn.Module):
    """DPT decoder: project each encoder level, then fuse from coarsest to finest."""

    def __init__(self, dims_encoder: tuple[int, ...], dims_decoder: tuple[int, ...]) -> None:
        super().__init__()
        if len(dims_encoder) != len(dims_decoder):
            raise ValueError("encoder and decoder need the same number of levels")
        self.dim_out = dims_decoder[0]
        # The finest level is only projected when widths differ (the checkpoint has no convs.0 else).
        first = (
            nn.Conv2d(dims_encoder[0], dims_decoder[0], 1, bias=False)
            if dims_encoder[0] != dims_decoder[0]
            else nn.Identity()
        )
        self.convs = nn.ModuleList(
            [first]
            + [
                nn.Conv2d(d_in, d_out, 3, padding=1, bias=False)
                for d_in, d_out in zip(dims_encoder[1:], dims_decoder[1:])
            ]
        )
        self.fusions = nn.ModuleList(
            FusionBlock(
                dims_decoder[i], dims_decoder[i - 1] if i else dims_decoder[0], upsample=i != 0
            )
            for i in range(len(dims_decoder))
        )

    def forward(self, encodings: list[torch.Tensor]) -> torch.Tensor:
        features = self.fusions[-1](self.convs[-1](encodings[-1]))
        for level in range(len(encodings) - 2, -1, -1):
            features = self.fusions[level](features, self.convs[level](encodings[level]))
        return features
