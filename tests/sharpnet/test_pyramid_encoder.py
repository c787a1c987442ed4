"""Tiling, stitching, input sizes and the memory-saving segments of the pyramid encoder."""

from __future__ import annotations

import pytest
import torch

from sharpnet.config import GaussianDecoderConfig, MonodepthConfig, SharpConfig, ViTConfig
from sharpnet.models import build_model
from sharpnet.models.pyramid_encoder import merge_tiles, split_tiles, tile_starts


def reference_style_merge(tiles: torch.Tensor, batch: int, padding: int) -> torch.Tensor:
    """The published rule at 1536: drop ``padding`` tokens on every inner edge of every tile."""
    steps = int(round((tiles.shape[0] // batch) ** 0.5))
    rows = []
    for j in range(steps):
        row = []
        for i in range(steps):
            t = tiles[batch * (j * steps + i): batch * (j * steps + i + 1)]
            if j:
                t = t[..., padding:, :]
            if i:
                t = t[..., :, padding:]
            if j != steps - 1:
                t = t[..., :-padding, :]
            if i != steps - 1:
                t = t[..., :, :-padding]
            row.append(t)
        rows.append(torch.cat(row, dim=-1))
    return torch.cat(rows, dim=-2)


def test_reference_tiling_at_1536():
    assert [s * 16 for s in tile_starts(96, 24, 5)] == [0, 288, 576, 864, 1152]  # 25% overlap
    assert [s * 16 for s in tile_starts(48, 24, 3)] == [0, 192, 384]  # 50% overlap
    tiles0 = torch.randn(25 * 2, 4, 24, 24)
    assert torch.equal(merge_tiles(tiles0, tile_starts(96, 24, 5), 2), reference_style_merge(tiles0, 2, 3))
    tiles1 = torch.randn(9 * 2, 4, 24, 24)
    assert torch.equal(merge_tiles(tiles1, tile_starts(48, 24, 3), 2), reference_style_merge(tiles1, 2, 6))


@pytest.mark.parametrize("side", [512, 576, 704, 1024, 1280, 1536])
def test_split_then_merge_restores_the_token_grid(side):
    """Tokens cut from a known grid and stitched back give the grid again, for every valid side."""
    grid = side // 16
    tile = grid // 4
    image = torch.arange(grid * grid, dtype=torch.float32).reshape(1, 1, grid, grid)
    for count, level in ((5, image), (3, image[..., : grid // 2, : grid // 2])):
        starts = tile_starts(level.shape[-1], tile, count)
        tiles = split_tiles(level, starts, tile, 1)  # patch=1: one pixel per token
        assert tiles.shape == (count * count, 1, tile, tile)
        assert torch.equal(merge_tiles(tiles, starts, 1), level)


def small_config() -> SharpConfig:
    vit = ViTConfig(embed_dim=32, depth=2, num_heads=2, num_classes=4)
    mono = MonodepthConfig(patch_encoder=vit, image_encoder=vit, encoder_dims=(8, 16, 32, 32),
                           hook_ids=(0, 1, 1, 1), decoder_dims=(16, 16, 16, 16, 16))
    return SharpConfig(monodepth=mono, gaussian_decoder=GaussianDecoderConfig(dims_decoder=(16,) * 5))


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    model = build_model(small_config()).eval()
    for p in model.parameters():  # random, non-degenerate outputs everywhere
        p.data.normal_(0, 0.05)
    return model


@pytest.mark.parametrize("side", [512, 640])
def test_any_multiple_of_64_gives_half_side_squared_times_two_gaussians(small_model, side):
    image = torch.rand(1, 3, side, side)
    with torch.inference_mode():
        out = small_model(image, torch.tensor([0.8]))
    assert out.mean_vectors.shape == (1, (side // 2) ** 2 * 2, 3)
    assert torch.isfinite(out.mean_vectors).all()


def test_memory_saving_segments_compute_the_same_function(small_model):
    """In float64 the segmented/stripped run equals the whole run to rounding: halos are enough."""
    model = small_model.double()
    image = torch.rand(1, 3, 512, 512, dtype=torch.float64)
    factor = torch.tensor([0.8], dtype=torch.float64)
    try:
        with torch.inference_mode():
            model.set_vit_segments(1)
            whole = model(image, factor)
            model.set_vit_segments(5)
            segmented = model(image, factor)
    finally:
        model.set_vit_segments(1)
        model.float()
    for a, b in zip(whole, segmented):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
