"""The whole SHARP network: photo (at the input side) -> Gaussians in NDC.

Submodule names are the checkpoint's top-level prefixes: ``monodepth_model``, ``depth_alignment``,
``feature_model``, ``prediction_head``. Initializer and composer have no weights.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from sharpnet.config import SharpConfig
from sharpnet.models.alignment import DepthAlignment
from sharpnet.models.composer import GaussianTensors, compose
from sharpnet.models.gaussian_decoder import DirectPredictionHead, GaussianDecoder
from sharpnet.models.initializer import initialize
from sharpnet.models.monodepth import MonodepthModel


class SharpNetwork(nn.Module):
    def __init__(self, cfg: SharpConfig) -> None:
        super().__init__()
        if cfg.initializer.num_layers != cfg.monodepth.num_layers:
            raise ValueError("the initializer needs one depth layer per Gaussian layer")
        self.cfg = cfg
        self.monodepth_model = MonodepthModel(cfg.monodepth)
        self.depth_alignment = DepthAlignment(cfg.alignment)
        self.feature_model = GaussianDecoder(cfg.gaussian_decoder, cfg.monodepth.dims_encoder)
        self.prediction_head = DirectPredictionHead(
            cfg.gaussian_decoder.dim_out, cfg.initializer.num_layers
        )
        # Reduced precision for the heavy layers only (see sharpnet.fast_paths); None = float32.
        self.amp_dtype: torch.dtype | None = None

    def _heavy(self, image: torch.Tensor) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(image.device.type, dtype=self.amp_dtype)

    def _full(self, t: torch.Tensor) -> torch.Tensor:
        """Back to float32 after an autocast region (a float64 model stays float64)."""
        return t if self.amp_dtype is None else t.float()

    def set_vit_segments(self, segments: int) -> None:
        """Memory-saving mode: the patch ViT's 35 tiles run in ``segments`` batches, and the
        full-resolution conv stages without normalisation (the finest decoder fusions, the disparity
        head, the Gaussian decoder's fusion with the image) run in as many row strips. Same result,
        lower peak memory."""
        segments = max(1, int(segments))
        monodepth = self.monodepth_model.monodepth_predictor
        monodepth.encoder.segments = segments
        monodepth.decoder.strips = segments
        monodepth.strips = segments
        self.feature_model.decoder.strips = segments
        self.feature_model.strips = segments

    def forward(
        self,
        image: torch.Tensor,
        disparity_factor: torch.Tensor,
        reference_depth: torch.Tensor | None = None,
    ) -> GaussianTensors:
        """``image`` (B, 3, N, N) in [0, 1]; ``disparity_factor`` (B,) = focal px / photo width.

        ``reference_depth`` (optional, metric) aligns the predicted depth through the learned scale map.
        """
        monodepth = self.monodepth_model.monodepth_predictor
        with self._heavy(image):
            encodings, decoded = monodepth.encode(image)
        # The disparity head stays float32: depth is its reciprocal, so rounding here becomes geometry.
        disparity = monodepth.disparity(self._full(decoded)).clamp(min=1e-4, max=1e4)
        del decoded  # full-resolution decoder features (~0.6 GB at 1536): not needed past this point
        depth = disparity_factor[:, None, None, None] / disparity
        depth = self.depth_alignment(depth, reference_depth)
        init = initialize(image, depth, self.cfg.initializer)
        with self._heavy(image):
            features = self.feature_model(init.feature_input, encodings)
            delta = self.prediction_head(features)
        return compose(self._full(delta), init.base, init.global_scale, self.cfg.composer)
