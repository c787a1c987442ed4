"""Convolutional building blocks shared by the decoders (index layout mirrors the checkpoint)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def run_in_strips(
    fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor], strips: int, halo: int, scale: int = 1
) -> torch.Tensor:
    """``fn(*inputs)`` computed in horizontal strips, to bound the memory of its temporaries.

    ``fn`` must be local (no normalisation over the image) with a receptive radius of at most
    ``halo`` input rows, and scale the height by ``scale``. Each strip is computed with ``halo``
    extra rows of real context on either side, which are cropped away, so the result equals the
    whole-image computation up to float summation order.
    """
    height = inputs[0].shape[-2]
    if strips <= 1 or height < 2 * strips:
        return fn(*inputs)
    edges = [round(k * height / strips) for k in range(strips + 1)]
    out = None
    for r0, r1 in zip(edges[:-1], edges[1:]):
        a0, a1 = max(0, r0 - halo), min(height, r1 + halo)
        piece = fn(*[x[..., a0:a1, :] for x in inputs])
        piece = piece[..., (r0 - a0) * scale : (r1 - a0) * scale, :]
        if out is None:
            out = piece.new_empty(piece.shape[:-2] + (height * scale, piece.shape[-1]))
        out[..., r0 * scale : r1 * scale, :] = piece
    return out


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
        self.strips = 1  # >1: the finest level, the largest tensors, runs in row strips

    def _finest(self, features: torch.Tensor, encoding: torch.Tensor) -> torch.Tensor:
        return self.fusions[0](features, self.convs[0](encoding))

    def forward(self, encodings: list[torch.Tensor]) -> torch.Tensor:
        features = self.fusions[-1](self.convs[-1](encodings[-1]))
        for level in range(len(encodings) - 2, 0, -1):
            features = self.fusions[level](features, self.convs[level](encodings[level]))
        # Two residual units of two 3x3 convs each: a receptive radius of 4 rows.
        return run_in_strips(self._finest, [features, encodings[0]], self.strips, halo=4)
