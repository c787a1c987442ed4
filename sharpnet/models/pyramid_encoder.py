"""Sliding-pyramid encoder (Depth Pro's SPN): one ViT sees the photo as overlapping tiles at three scales.

For an input side N the tile side is N/4 (T = N/64 tokens). Level 0 (the photo at N) is cut into
5x5 tiles, level 1 (N/2) into 3x3, level 2 (N/4) is one tile; all 35 go through the patch ViT as
one batch, or in ``segments`` batches to bound peak memory. Tiles are stitched back by cutting each
overlap in its middle. At the reference's N = 1536 the tile starts are whole tokens and this is
exactly the reference's split/merge; for other sides the starts are rounded to whole tokens so the
stitched maps still come out 4T (level 0) and 2T (level 1) tokens wide.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sharpnet.config import MonodepthConfig
from sharpnet.models.blocks import project_upsample
from sharpnet.models.vit import VisionTransformer

LEVEL0_TILES = 5  # tiles per side at full resolution (25% overlap at the reference size)
LEVEL1_TILES = 3  # tiles per side at half resolution (50% overlap)


def tile_starts(tokens_per_side: int, tile_tokens: int, count: int) -> list[int]:
    """Evenly spaced tile starts (in tokens) covering ``tokens_per_side`` with ``count`` tiles."""
    span = tokens_per_side - tile_tokens
    return [int(math.floor(k * span / (count - 1) + 0.5)) for k in range(count)]


def split_tiles(image: torch.Tensor, starts: list[int], tile: int, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (len(starts)^2 * B, C, tile, tile), row-major tiles, batch innermost."""
    tiles = [
        image[..., y * patch : y * patch + tile, x * patch : x * patch + tile]
        for y in starts
        for x in starts
    ]
    return torch.cat(tiles, dim=0)


def merge_tiles(tiles: torch.Tensor, starts: list[int], batch: int) -> torch.Tensor:
    """Inverse of :func:`split_tiles` on token grids: each overlap is cut in its middle."""
    count = len(starts)
    grid = tiles.shape[-1]
    # Token ranges [lo, hi) each tile keeps, along one axis.
    cuts = [starts[k + 1] + (starts[k] + grid - starts[k + 1]) // 2 for k in range(count - 1)]
    bounds = [
        ((cuts[k - 1] - starts[k]) if k else 0, (cuts[k] - starts[k]) if k < count - 1 else grid)
        for k in range(count)
    ]
    rows = []
    for j in range(count):
        y0, y1 = bounds[j]
        row = []
        for i in range(count):
            x0, x1 = bounds[i]
            index = j * count + i
            row.append(tiles[index * batch : (index + 1) * batch, :, y0:y1, x0:x1])
        rows.append(torch.cat(row, dim=-1))
    return torch.cat(rows, dim=-2)


class SlidingPyramidEncoder(nn.Module):
    def __init__(self, cfg: MonodepthConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_encoder = VisionTransformer(cfg.patch_encoder)
        self.image_encoder = VisionTransformer(cfg.image_encoder)
        dims = cfg.dims_encoder
        width = cfg.patch_encoder.embed_dim
        self.upsample_latent0 = project_upsample(width, dims[0], 3, dim_mid=dims[1])
        self.upsample_latent1 = project_upsample(width, dims[1], 2)
        self.upsample0 = project_upsample(width, dims[2], 1)
        self.upsample1 = project_upsample(width, dims[3], 1)
        self.upsample2 = project_upsample(width, dims[4], 1)
        self.upsample_lowres = nn.ConvTranspose2d(
            cfg.image_encoder.embed_dim, dims[4], 2, stride=2, bias=True
        )
        self.fuse_lowres = nn.Conv2d(2 * dims[4], dims[4], 1)
        self.segments = 1

    def _encode_tiles(self, tiles: torch.Tensor, keep_taps: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Patch-ViT over all tiles, in ``self.segments`` batches; taps kept for the first tiles only."""
        taps = tuple(self.cfg.hook_ids[:2])
        outputs, tapped = [], [[] for _ in taps]
        offset = 0
        for chunk in tiles.tensor_split(max(1, min(self.segments, tiles.shape[0]))):
            out, chunk_taps = self.patch_encoder(chunk, taps)
            outputs.append(out)
            wanted = max(0, min(chunk.shape[0], keep_taps - offset))
            if wanted:
                for store, tap in zip(tapped, taps):
                    store.append(self.patch_encoder.to_grid(chunk_taps[tap][:wanted]))
            offset += chunk.shape[0]
        return torch.cat(outputs), [torch.cat(store) for store in tapped]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, N, N) in [-1, 1] -> five maps at N/2, N/4, N/8, N/16 and N/32."""
        batch, side = x.shape[0], x.shape[-1]
        patch = self.cfg.patch_encoder.patch_size
        tile = side // 4
        grid = tile // patch
        half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)

        starts0 = tile_starts(side // patch, grid, LEVEL0_TILES)
        starts1 = tile_starts(side // 2 // patch, grid, LEVEL1_TILES)
        tiles0 = split_tiles(x, starts0, tile, patch)
        tiles1 = split_tiles(half, starts1, tile, patch)
        encodings, (latent0, latent1) = self._encode_tiles(
            torch.cat([tiles0, tiles1, quarter]), keep_taps=tiles0.shape[0]
        )
        enc0, enc1, enc2 = torch.split(encodings, [tiles0.shape[0], tiles1.shape[0], batch])

        lowres, _ = self.image_encoder(quarter)
        features2 = self.upsample2(enc2)
        lowres = self.fuse_lowres(torch.cat([features2, self.upsample_lowres(lowres)], dim=1))
        return [
            self.upsample_latent0(merge_tiles(latent0, starts0, batch)),
            self.upsample_latent1(merge_tiles(latent1, starts0, batch)),
            self.upsample0(merge_tiles(enc0, starts0, batch)),
            self.upsample1(merge_tiles(enc1, starts1, batch)),
            lowres,
        ]
