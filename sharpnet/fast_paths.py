"""The torch fast paths of :class:`sharpnet.options.InferenceOptions`, applied to a loaded network.

Everything but int8 quantization can be switched both ways in place; quantization replaces the ViT
linear layers, so turning it *off* again needs the original weights (the predictor reloads them).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from sharpnet.models import SharpNetwork
from sharpnet.options import InferenceOptions, Precision

AMP_DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def check_supported(options: InferenceOptions, device: torch.device) -> None:
    """Refuse combinations that have no kernels on ``device`` (one line each)."""
    if options.runtime == "torch" and options.int8 and device.type != "cpu":
        raise ValueError("int8 dynamic quantization under torch is a CPU fast path (no GPU kernels); "
                         "use precision bf16/fp16 on a GPU, or the onnxruntime runtime")
    if options.precision == "fp16" and device.type == "cpu":
        raise ValueError("fp16 autocast is not supported on CPU; use bf16 or fp32")


def int8_engine() -> str:
    """The quantized engine the ViT linears are packed for.

    oneDNN's dynamic int8 linear beat the default ``x86`` engine (which picks FBGEMM for dynamic
    linears) by 7-12% on the patch ViT (12 tiles: 24.8 s against 26.5-28.1 s, AMD EPYC with AVX2,
    same output to 4e-6). Packed weights remember their engine, so the choice is made here,
    once, and the process-wide setting is restored afterwards.
    """
    return "onednn" if "onednn" in torch.backends.quantized.supported_engines else torch.backends.quantized.engine


def quantize_vit_linears(model: SharpNetwork) -> None:
    encoder = model.monodepth_model.monodepth_predictor.encoder
    previous = torch.backends.quantized.engine
    with warnings.catch_warnings():  # the eager quantisation API warns about its future, not about us
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        torch.backends.quantized.engine = int8_engine()
        try:
            for name in ("patch_encoder", "image_encoder"):
                vit = getattr(encoder, name)
                vit.blocks = quantize_dynamic(vit.blocks, {nn.Linear}, dtype=torch.qint8)
        finally:
            torch.backends.quantized.engine = previous


def is_quantized(model: SharpNetwork) -> bool:
    encoder = model.monodepth_model.monodepth_predictor.encoder
    return any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in encoder.modules())


def set_precision(model: SharpNetwork, precision: Precision) -> None:
    model.amp_dtype = AMP_DTYPES[precision]


def apply_fast_paths(model: SharpNetwork, options: InferenceOptions, device: torch.device) -> nn.Module:
    """Configure ``model`` (in place) for ``options``; returns the callable to run it with.

    Idempotent: applying the options a model already has changes nothing, so a worker can be
    reconfigured repeatedly. Only quantization already applied cannot be undone here.
    """
    check_supported(options, device)
    if is_quantized(model) and not options.int8:
        raise ValueError("the ViT linears are already quantized; reload the weights to run without int8")
    model.set_vit_segments(options.segments)
    set_precision(model, options.precision)
    model.to(memory_format=torch.channels_last if options.channels_last else torch.contiguous_format)
    if options.int8 and not is_quantized(model):
        quantize_vit_linears(model)
    if options.compile:
        return torch.compile(model, dynamic=False)
    return model


__all__ = ["AMP_DTYPES", "InferenceOptions", "apply_fast_paths", "check_supported", "int8_engine", "is_quantized",
           "quantize_vit_linears", "set_precision"]
