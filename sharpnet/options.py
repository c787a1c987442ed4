"""The one record that says *how* the network is run: precision, quantization, layout, compile,
memory-saving segments and runtime.

It is deliberately torch-free so the server process can build it from the configuration, put it in
the picklable backend recipe and hand it to workers, which apply it through
:meth:`sharpnet.predictor.Predictor.reconfigure`. Each choice trades nothing or a stated tolerance
for speed (``sharpnet.fast_paths`` applies the torch ones, ``sharpnet.onnx_runtime`` the others):

- ``precision`` "fp16"/"bf16": autocast over the ViTs and conv decoders; depth conversion,
  base-Gaussian layout, activations and the unprojection stay in float32.
- ``quantization`` "dynamic": int8 weights with activations quantized on the fly. Under torch it
  covers the ViT linear layers (~2/3 of the FLOPs, CPU only); under onnxruntime every MatMul/Gemm.
- ``channels_last``: NHWC memory layout for the convolution-heavy decoders.
- ``compile``: ``torch.compile`` of the whole network (the first call pays the compilation).
- ``segments``: the 35 encoder tiles run in K batches; identical output, lower peak memory.
- ``runtime`` "onnxruntime": the exported ONNX graph through onnxruntime's execution providers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Precision = Literal["fp32", "fp16", "bf16"]
PRECISIONS = ("fp32", "fp16", "bf16")
QUANTIZATIONS = ("none", "dynamic")
RUNTIMES = ("torch", "onnxruntime")


@dataclass(frozen=True)
class InferenceOptions:
    """How the network runs, as one frozen record: config, auto-tune, CLI and workers all speak it,
    so adding a fast path is a field here and a branch where it is applied."""

    precision: Precision = "fp32"
    quantization: str = "none"  # "none" | "dynamic" (int8 weights, activations quantized per call)
    channels_last: bool = False
    compile: bool = False
    segments: int = 1
    runtime: str = "torch"  # "torch" | "onnxruntime"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {list(QUANTIZATIONS)}, got {self.quantization!r}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {list(RUNTIMES)}, got {self.runtime!r}")
        if self.segments < 1:
            raise ValueError(f"segments must be at least 1, got {self.segments}")
        if self.runtime == "onnxruntime" and (self.precision != "fp32" or self.compile or self.channels_last):
            raise ValueError("the onnxruntime runtime runs the exported float32 graph: precision, "
                             "channels_last and compile are torch options (quantization applies to both)")

    @property
    def int8(self) -> bool:
        return self.quantization == "dynamic"

    @property
    def label(self) -> str:
        parts = [self.precision] if self.runtime == "torch" else ["ort"]
        parts += [name for name in ("channels_last", "compile") if getattr(self, name)]
        if self.int8:
            parts.append("int8")
        if self.segments > 1:
            parts.append(f"segments={self.segments}")
        return "+".join(parts)

    @classmethod
    def from_label(cls, label: str, segments: int = 1) -> "InferenceOptions":
        """``"bf16+channels_last"``, ``"ort+int8"``, ... (the inverse of :attr:`label`)."""
        parts = set(label.split("+"))
        known = set(PRECISIONS) | {"ort", "channels_last", "compile", "int8"}
        unknown = parts - known
        if unknown:
            raise ValueError(f"unknown fast path(s) {sorted(unknown)} in {label!r}; known: {sorted(known)}")
        precision = next((p for p in PRECISIONS if p in parts), "fp32")
        return cls(precision=precision, quantization="dynamic" if "int8" in parts else "none",
                   channels_last="channels_last" in parts, compile="compile" in parts, segments=segments,
                   runtime="onnxruntime" if "ort" in parts else "torch")

    def with_precision(self, precision: str) -> "InferenceOptions":
        return replace(self, precision=precision)  # type: ignore[arg-type]


__all__ = ["InferenceOptions", "PRECISIONS", "Precision", "QUANTIZATIONS", "RUNTIMES"]
