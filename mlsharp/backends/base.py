"""The one interface every backend implements, and the picklable recipe that builds one.

The recipe (:class:`BackendSpec`) is decided in the server process, which never imports torch for
the preview, and travels to each worker process, which builds the backend once in its initializer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sharpnet.gaussians import Gaussians


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing module, checkpoint or device); the message says why."""


class Backend(Protocol):
    name: str  # "sharp" | "preview"

    def predict(self, rgb: np.ndarray, f_px: float, input_size: int) -> Gaussians:
        """Gaussians in metric camera space for an upright (H, W, 3) uint8 photo."""
        ...


@dataclass(frozen=True)
class BackendSpec:
    name: str  # "sharp" | "preview"
    identity: str  # enters cache keys: a different model must never reuse another's results
    device: str = "cpu"
    checkpoint: str | None = None
    model_config: str | None = None
    checkpoint_segments: int = 1
    precision: str = "fp32"  # "fp32" | "fp16" | "bf16" (autocast; only chosen on a GPU with gpu.amp)
    mode: str = "auto"
    amp: bool = True
    cudnn_benchmark: bool = True
    tf32: bool = True

    @property
    def is_preview(self) -> bool:
        return self.name == "preview"


def load_backend(spec: BackendSpec) -> Backend:
    """Build the backend ``spec`` describes (in the calling process)."""
    if spec.name == "preview":
        from mlsharp.backends.preview import PreviewBackend

        return PreviewBackend()
    if spec.name == "sharp":
        from mlsharp.backends.sharp import SharpBackend

        return SharpBackend.load(spec)
    raise BackendUnavailable(f"unknown backend {spec.name!r}")
