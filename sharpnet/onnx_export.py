"""The network as an ONNX graph: one file per input side (the graph has static shapes, so each
side is its own export), written atomically, with the weights as external data when they would
not fit in a single protobuf (2 GB; the released model's float32 weights are ~2.6 GB).

Files are named by model identity and side, so a directory can hold exports of several models and
sizes side by side, and a runtime can tell whether the export it needs is already there.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from sharpnet.config import snap_input_size
from sharpnet.models import SharpNetwork

INPUT_NAMES = ("image", "disparity_factor")
OUTPUT_NAMES = ("mean_vectors", "singular_values", "quaternions", "colors", "opacities")
PROTOBUF_LIMIT = 2 * 1024**3
OPSET = 18


def onnx_file(directory: str | Path, model_id: str, input_size: int, int8: bool = False) -> Path:
    suffix = ".int8.onnx" if int8 else ".onnx"
    return Path(directory) / f"sharp-{model_id}-{snap_input_size(input_size)}{suffix}"


def external_data(graph: str | Path) -> Path:
    """Where the exporter puts the weights of a graph saved with external data."""
    return Path(f"{graph}.data")


def weight_bytes(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def _publish(staging: Path, target: Path) -> None:
    """Move the staged graph (and its weight file) next to ``target``; the graph file last, so a
    reader that sees it also sees its weights."""
    graph = staging / target.name
    for path in staging.iterdir():
        if path != graph:
            os.replace(path, target.parent / path.name)
    os.replace(graph, target)


def export_onnx(model: SharpNetwork, input_size: int, target: str | Path, quiet: bool = True) -> Path:
    """Write ``model`` at ``input_size`` (snapped to the network's rule) as ONNX to ``target``."""
    target = Path(target)
    side = snap_input_size(input_size)
    target.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    if model.amp_dtype is not None:
        raise ValueError("export the float32 network (precision fp32); onnxruntime quantizes on its own")
    params = next(model.parameters())
    image = torch.rand(1, 3, side, side, device=params.device)
    factor = torch.tensor([0.8], dtype=torch.float32, device=params.device)
    external = weight_bytes(model) > PROTOBUF_LIMIT * 0.9  # headroom for the graph itself
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), (contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model, (image, factor), dynamo=True, input_names=list(INPUT_NAMES),
                output_names=list(OUTPUT_NAMES), opset_version=OPSET, external_data=external,
            )
        program.save(str(staging / target.name), external_data=external)
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def quantize_onnx(source: str | Path, target: str | Path) -> Path:
    """ONNX Runtime dynamic int8 quantization of every MatMul/Gemm (weights int8, activations per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target = Path(source), Path(target)
    staging = Path(tempfile.mkdtemp(prefix=".quantize-", dir=target.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(source, staging / target.name, op_types_to_quantize=["MatMul", "Gemm"],
                             weight_type=QuantType.QInt8,
                             use_external_data_format=external_data(source).is_file())
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_onnx(model: SharpNetwork, model_id: str, input_size: int, directory: str | Path,
                int8: bool = False) -> Path:
    """The export for (model, side[, int8]) in ``directory``, made now if it is not there yet."""
    plain = onnx_file(directory, model_id, input_size)
    if not plain.is_file():
        export_onnx(model, input_size, plain)
    if not int8:
        return plain
    quantized = onnx_file(directory, model_id, input_size, int8=True)
    if not quantized.is_file():
        quantize_onnx(plain, quantized)
    return quantized


__all__ = ["INPUT_NAMES", "OUTPUT_NAMES", "ensure_onnx", "export_onnx", "onnx_file", "quantize_onnx"]
