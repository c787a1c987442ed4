"""Running an exported SHARP graph through ONNX Runtime, on the best execution provider installed.

Which providers exist depends on the onnxruntime *build* (``onnxruntime`` is CPU only,
``onnxruntime-gpu`` adds CUDA and TensorRT, ``onnxruntime-directml`` DirectML for AMD/Intel GPUs on
Windows, the macOS wheel CoreML). We take them in order of expected speed for the device asked for
and always keep the CPU provider last, so an operator a provider lacks still runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from sharpnet.models.composer import GaussianTensors
from sharpnet.onnx_export import INPUT_NAMES, OUTPUT_NAMES

# Per torch device type, the providers worth trying, fastest first.
PREFERRED = {
    "cuda": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "MIGraphXExecutionProvider",
             "ROCMExecutionProvider"),
    "xpu": ("OpenVINOExecutionProvider", "DmlExecutionProvider"),
    "mps": ("CoreMLExecutionProvider",),
    "cpu": (),
}
ANY_GPU = ("DmlExecutionProvider",)  # DirectML drives whichever GPU Windows offers


def onnxruntime_missing() -> str | None:
    """Why the runtime cannot be used here, or None."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install onnxruntime, or onnxruntime-gpu for CUDA)"
    if importlib.util.find_spec("onnxscript") is None:
        return "onnxscript (the ONNX exporter's dependency) is not installed"
    return None


def available_providers() -> list[str]:
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def providers_for(device: str | torch.device, available: list[str] | None = None) -> list[str]:
    """The providers to open a session with for ``device``, best first, CPU always last."""
    kind = torch.device(device).type
    available = available_providers() if available is None else available
    wanted = [p for p in PREFERRED.get(kind, ()) + (ANY_GPU if kind != "cpu" else ()) if p in available]
    return list(dict.fromkeys(wanted)) + ["CPUExecutionProvider"]


class OnnxRunner:
    """One inference session over one exported graph; called like the torch network."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.log_severity_level = 3  # warnings about provider fallbacks are expected, not news
        self.path = Path(path)
        self.device = torch.device(device)
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers_for(device))
        self.providers = self.session.get_providers()

    def __call__(self, image: torch.Tensor, disparity_factor: torch.Tensor) -> GaussianTensors:
        outputs = []
        for i in range(image.shape[0]):  # the graph is exported for one photo at a time
            feed = {INPUT_NAMES[0]: image[i:i + 1].float().contiguous().cpu().numpy(),
                    INPUT_NAMES[1]: disparity_factor[i:i + 1].float().cpu().numpy()}
            outputs.append(self.session.run(list(OUTPUT_NAMES), feed))
        tensors = [torch.from_numpy(np.concatenate(parts)).to(self.device) for parts in zip(*outputs)]
        return GaussianTensors(*tensors)


__all__ = ["OnnxRunner", "available_providers", "onnxruntime_missing", "providers_for"]
