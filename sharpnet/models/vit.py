"""A plain Vision Transformer whose parameter names match timm's, written for dense features.

Differences from a classifier ViT, and why:
- ``forward`` returns the normalised token grid (class token dropped) plus the raw outputs of
  chosen blocks, because the pyramid encoder stitches feature maps, it does not classify.
- Tiles of any multiple of the patch size are accepted: the position embeddings are resampled
  (bicubic) to the tile's token grid, which lets the network run below its native 1536 input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sharpnet.config import ViTConfig


class PatchEmbed(nn.Module):
    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block with LayerScale on both residual branches."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.attn = Attention(dim, cfg.num_heads, cfg.qkv_bias)
        self.ls1 = LayerScale(dim, cfg.layer_scale_init)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.mlp = Mlp(dim, int(dim * cfg.mlp_ratio))
        self.ls2 = LayerScale(dim, cfg.layer_scale_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.embed_dim
        self.patch_embed = PatchEmbed(cfg.in_chans, dim, cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + cfg.grid_size**2, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.head = nn.Linear(dim, cfg.num_classes)  # kept only so the checkpoint loads strictly

    @property
    def embed_dim(self) -> int:
        return self.cfg.embed_dim

    def position_embedding(self, grid: int) -> torch.Tensor:
        """Class + patch position embeddings for a ``grid`` x ``grid`` token tile."""
        native = self.cfg.grid_size
        if grid == native:
            return self.pos_embed
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        patch_pos = patch_pos.reshape(1, native, native, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(
            patch_pos.float(), size=(grid, grid), mode="bicubic", align_corners=False
        ).to(self.pos_embed.dtype)
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)
        return torch.cat([cls_pos, patch_pos], dim=1)

    def to_grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, 1 + T*T, C) tokens -> (B, C, T, T) feature map, class token dropped."""
        batch, count, channels = tokens.shape
        grid = int(round((count - 1) ** 0.5))
        return tokens[:, 1:].reshape(batch, grid, grid, channels).permute(0, 3, 1, 2)

    def forward(
        self, x: torch.Tensor, taps: tuple[int, ...] = ()
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Encode square tiles; return the final feature map and the tokens after blocks ``taps``."""
        grid = x.shape[-1] // self.cfg.patch_size
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.position_embedding(grid)
        tapped: dict[int, torch.Tensor] = {}
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in taps:
                tapped[index] = x
        return self.to_grid(self.norm(x)), tapped
