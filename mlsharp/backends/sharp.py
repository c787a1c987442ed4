"""The ``sharp`` backend: Apple's SHARP network through :class:`sharpnet.predictor.Predictor`.

Availability is checked without importing torch (the server process stays light); the network is
loaded only inside a worker process. When anything is missing this backend says so -- it never
substitutes another model.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from mlsharp.backends.base import BackendSpec, BackendUnavailable
from sharpnet.gaussians import Gaussians


def unavailable_reason(checkpoint: Path, model_config: Path | None) -> str | None:
    """Why SHARP cannot be used here, or ``None`` when it can be tried."""
    try:
        found = importlib.util.find_spec("sharpnet.predictor") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return "the SHARP network (sharpnet.predictor) is not installed"
    if not checkpoint.is_file():
        return f"no checkpoint at {checkpoint}"
    if model_config is not None and not model_config.is_file():
        return f"no model config at {model_config}"
    return None


def precision_for(device: str, amp: bool, amp_dtype: object) -> str:
    """Autocast precision for ``device``: fp32 unless on a GPU with AMP on (bf16 where supported)."""
    if not amp or not str(device).startswith("cuda"):
        return "fp32"
    name = str(amp_dtype or "").lower()
    if "bf" in name:
        return "bf16"
    if "16" in name or "half" in name:
        return "fp16"
    return "fp32"


def identity(checkpoint: Path, model_config: Path | None, precision: str = "fp32") -> str:
    """A stable id for this exact model and arithmetic: file name, size and mtime, the model
    config's bytes, and the precision (results differ slightly between fp32 and autocast).

    Hashing 2.8 GB on every start would cost seconds; size + mtime change whenever the file does.
    """
    stat = checkpoint.stat()
    digest = hashlib.sha256(f"{checkpoint.name}:{stat.st_size}:{stat.st_mtime_ns}:{precision}".encode())
    if model_config is not None:
        digest.update(model_config.read_bytes())
    return "sharp-" + digest.hexdigest()[:16]


def _options(spec: BackendSpec) -> dict:
    """Predictor fast-path options for ``spec`` (none when this sharpnet has no fast paths)."""
    if spec.precision == "fp32":
        return {}
    try:
        from sharpnet.fast_paths import InferenceOptions
    except ImportError:
        return {}
    return {"options": InferenceOptions(precision=spec.precision, segments=spec.checkpoint_segments)}


class SharpBackend:
    name = "sharp"

    def __init__(self, predictor: object) -> None:
        self.predictor = predictor
        self.model_id = getattr(predictor, "model_id", "unknown")
        self.last_forward_s: float | None = None  # the network alone, for the overhead share

    @classmethod
    def load(cls, spec: BackendSpec) -> "SharpBackend":
        if spec.checkpoint is None:
            raise BackendUnavailable("the sharp backend needs a checkpoint")
        reason = unavailable_reason(
            Path(spec.checkpoint), Path(spec.model_config) if spec.model_config else None
        )
        if reason:
            raise BackendUnavailable(reason)
        from sharpnet.config import ModelConfigError, load_model_config
        from sharpnet.predictor import CheckpointError, Predictor

        try:
            cfg = load_model_config(spec.model_config) if spec.model_config else None
            predictor = Predictor.load(
                Path(spec.checkpoint), cfg, device=spec.device,
                checkpoint_segments=spec.checkpoint_segments, **_options(spec),
            )
        except (ModelConfigError, CheckpointError) as exc:
            raise BackendUnavailable(str(exc)) from None
        except RuntimeError as exc:  # e.g. out of memory, or the device vanished
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BackendUnavailable(f"cannot load SHARP on {spec.device}: {first}") from None
        return cls(predictor)

    def predict(self, rgb: np.ndarray, f_px: float, input_size: int) -> Gaussians:
        prediction = self.predictor.predict(rgb, f_px, input_size)
        self.last_forward_s = prediction.timings.get("inference")
        return prediction.gaussians
