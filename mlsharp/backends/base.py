"""The one interface every backend implements, and the picklable recipe that builds one.

The recipe (:class:`BackendSpec`) is decided in the server process, which never imports torch, and
travels to each worker process, which detects the device, completes the recipe (device, precision,
identity; see :func:`mlsharp.worker.ping`) and builds the backend once in its initializer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sharpnet.gaussians import Gaussians
from sharpnet.options import InferenceOptions


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing module, checkpoint or device); the message says why."""


class Backend(Protocol):
    """What a worker calls for one photo; the sharp network and the preview answer the same way, so
    everything downstream (PLY, cache, exports) never asks which one ran."""

    name: str  # "sharp" | "preview"

    def predict(self, rgb: np.ndarray, f_px: float, input_size: int) -> Gaussians:
        """Gaussians in metric camera space for an upright (H, W, 3) uint8 photo."""
        ...


@dataclass(frozen=True)
class BackendSpec:
    """The picklable recipe of a backend: decided in the torch-free server, completed and built in
    each worker, and part of every cache key through ``identity``."""

    name: str  # "sharp" | "preview"
    identity: str  # enters cache keys: a different model must never reuse another's results
    device: str | None = "cpu"  # None: the worker chooses it from ``mode`` (and fills in precision)
    checkpoint: str | None = None
    model_config: str | None = None
    # How the network runs (precision from gpu_utils' policy, quantization, layout, compile, segments,
    # runtime): the one fast-path record, applied by the worker through Predictor.reconfigure.
    options: InferenceOptions = InferenceOptions()
    onnx_dir: str | None = None  # where the onnxruntime runtime keeps its exports
    mode: str = "auto"
    amp: bool = True
    cudnn_benchmark: bool = True
    tf32: bool = True

    @property
    def is_preview(self) -> bool:
        return self.name == "preview"

    @property
    def precision(self) -> str:
        return self.options.precision

    @property
    def checkpoint_segments(self) -> int:
        return self.options.segments


def load_backend(spec: BackendSpec) -> Backend:
    """Build the backend ``spec`` describes (in the calling process)."""
    if spec.name == "preview":
        from mlsharp.backends.preview import PreviewBackend

        return PreviewBackend()
    if spec.name == "sharp":
        from mlsharp.backends.sharp import SharpBackend

        return SharpBackend.load(spec)
    raise BackendUnavailable(f"unknown backend {spec.name!r}")
