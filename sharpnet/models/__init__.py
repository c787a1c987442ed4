"""The SHARP network's modules; :func:`build_model` is the one entry point."""

from __future__ import annotations

import torch

from sharpnet.config import SharpConfig
from sharpnet.models.sharp import SharpNetwork


def build_model(cfg: SharpConfig | None = None, device: str | torch.device | None = None) -> SharpNetwork:
    """The network for ``cfg`` (default: the released model). ``device="meta"`` allocates nothing."""
    cfg = SharpConfig() if cfg is None else cfg
    if device is None:
        return SharpNetwork(cfg)
    with torch.device(device):
        return SharpNetwork(cfg)


__all__ = ["SharpNetwork", "build_model"]
