"""Optional inference fast paths. Each trades nothing or a stated tolerance for speed.

- ``precision`` "fp16"/"bf16": autocast over the ViTs and conv decoders; depth conversion,
  base-Gaussian layout, activations and the unprojection stay in float32/float64.
- ``channels_last``: NHWC memory layout for the convolution-heavy decoders (faster cuDNN/oneDNN kernels).
- ``compile``: ``torch.compile`` of the whole network (first call pays the compilation).
- ``int8_vit``: CPU only; dynamic int8 quantisation of the ViT linear layers (~2/3 of the FLOPs).
- ``segments``: run the 35 encoder tiles in K batches; identical output, lower peak memory.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from sharpnet.models import SharpNetwork

Precision = Literal["fp32", "fp16", "bf16"]
AMP_DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class InferenceOptions:
    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    int8_vit: bool = False
    segments: int = 1

    def __post_init__(self) -> None:
        if self.precision not in AMP_DTYPES:
            raise ValueError(f"precision must be one of {sorted(AMP_DTYPES)}, got {self.precision!r}")
        if self.segments < 1:
            raise ValueError(f"segments must be at least 1, got {self.segments}")

    @property
    def label(self) -> str:
        parts = [self.precision]
        parts += [name for name in ("channels_last", "compile", "int8_vit") if getattr(self, name)]
        if self.segments > 1:
            parts.append(f"segments={self.segments}")
        return "+".join(parts)


def _quantize_vit_linears(model: SharpNetwork) -> None:
    encoder = model.monodepth_model.monodepth_predictor.encoder
    with warnings.catch_warnings():  # the eager quantisation API warns about its future, not about us
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        for name in ("patch_encoder", "image_encoder"):
            vit = getattr(encoder, name)
            vit.blocks = quantize_dynamic(vit.blocks, {nn.Linear}, dtype=torch.qint8)


def apply_fast_paths(model: SharpNetwork, options: InferenceOptions, device: torch.device) -> nn.Module:
    """Configure ``model`` (in place) for ``options``; returns the callable to run it with."""
    if options.int8_vit and device.type != "cpu":
        raise ValueError("int8_vit is a CPU fast path (dynamic quantisation has no GPU kernels)")
    if options.precision != "fp32" and device.type == "cpu" and options.precision == "fp16":
        raise ValueError("fp16 autocast is not supported on CPU; use bf16 or fp32")
    model.set_vit_segments(options.segments)
    model.amp_dtype = AMP_DTYPES[options.precision]
    if options.channels_last:
        model.to(memory_format=torch.channels_last)
    if options.int8_vit:
        _quantize_vit_linears(model)
    if options.compile:
        return torch.compile(model, dynamic=False)
    return model
