"""Monocular depth network: pyramid ViT encoder, DPT decoder, and a head giving disparity layers."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from sharpnet.config import MonodepthConfig
from sharpnet.models.blocks import MultiresConvDecoder, run_in_strips
from sharpnet.models.pyramid_encoder import SlidingPyramidEncoder


class MonodepthOutput(NamedTuple):
    disparity: torch.Tensor  # (B, num_layers, N, N)
    encoder_features: list[torch.Tensor]  # five maps, reused by the Gaussian decoder
    decoder_features: torch.Tensor


class MonodepthPredictor(nn.Module):
    def __init__(self, cfg: MonodepthConfig) -> None:
        super().__init__()
        self.encoder = SlidingPyramidEncoder(cfg)
        self.decoder = MultiresConvDecoder(cfg.dims_encoder, cfg.decoder_dims)
        dim = self.decoder.dim_out
        self.head = nn.Sequential(
            nn.Conv2d(dim, dim // 2, 3, padding=1),
            nn.ConvTranspose2d(dim // 2, dim // 2, 2, stride=2, bias=True),
            nn.Conv2d(dim // 2, cfg.head_hidden_dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(cfg.head_hidden_dim, cfg.num_layers, 1),
            nn.ReLU(),
        )
        self.strips = 1  # >1: the full-resolution head runs in row strips

    def disparity(self, features: torch.Tensor) -> torch.Tensor:
        """The head; a 3x3 conv before and after the x2 upsampling: 2 rows of context suffice."""
        return run_in_strips(self.head, [features], self.strips, halo=2, scale=2)

    def encode(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Encoder maps and decoder features; ``image`` in [0, 1] (the ViTs were trained on [-1, 1])."""
        encodings = self.encoder(image * 2.0 - 1.0)
        return encodings, self.decoder(encodings)

    def forward(self, image: torch.Tensor) -> MonodepthOutput:
        encodings, features = self.encode(image)
        return MonodepthOutput(self.disparity(features), encodings, features)


class MonodepthModel(nn.Module):
    """Holds the predictor under the checkpoint's ``monodepth_model.monodepth_predictor`` prefix."""

    def __init__(self, cfg: MonodepthConfig) -> None:
        super().__init__()
        self.monodepth_predictor = MonodepthPredictor(cfg)

    def forward(self, image: torch.Tensor) -> MonodepthOutput:
        return self.monodepth_predictor(image)
