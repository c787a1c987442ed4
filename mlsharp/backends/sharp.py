"""The ``sharp`` backend: Apple's SHARP network through :class:`sharpnet.predictor.Predictor`.

Availability is checked without importing torch (the server process stays light); the network is
loaded only inside a worker process. When anything is missing this backend says so -- it never
substitutes another model.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mlsharp.backends.base import BackendSpec, BackendUnavailable
from sharpnet.gaussians import Gaussians
from sharpnet.options import InferenceOptions


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


def options_for(config: Any, precision: str) -> InferenceOptions:
    """The fast-path record the configuration asks for; ``precision`` comes from gpu_utils' policy
    (the GPU manager), the one place that decides it."""
    opt = config.optimization
    runtime = config.model.runtime
    return InferenceOptions(
        precision=precision if runtime == "torch" else "fp32",  # type: ignore[arg-type]
        quantization=opt.quantization_mode if opt.enable_quantization else "none",
        channels_last=opt.channels_last and runtime == "torch",
        compile=opt.compile and runtime == "torch",
        segments=config.checkpoint_segments,
        runtime=runtime,
    )


def numerics(options: InferenceOptions) -> str:
    """The part of the options that changes results (beyond float noise): precision, int8, runtime."""
    return options.precision + ("+int8" if options.int8 else "") + ("+ort" if options.runtime != "torch" else "")


def identity(checkpoint: Path, model_config: Path | None, precision: str = "fp32") -> str:
    """A stable id for this exact model and arithmetic: file name, size and mtime, the model
    config's bytes, and the numerics (``precision`` is :func:`numerics` of the options; results
    differ slightly between fp32, autocast and int8).

    Hashing 2.8 GB on every start would cost seconds; size + mtime change whenever the file does.
    """
    stat = checkpoint.stat()
    digest = hashlib.sha256(f"{checkpoint.name}:{stat.st_size}:{stat.st_mtime_ns}:{precision}".encode())
    if model_config is not None:
        digest.update(model_config.read_bytes())
    return "sharp-" + digest.hexdigest()[:16]


def on_device(spec: BackendSpec, device: str, precision: str) -> BackendSpec:
    """``spec`` completed in the worker for the device it detected: the precision gpu_utils' policy
    chose there (for the torch runtime), and the identity that names the numerics (so results of
    another arithmetic are never served from the cache)."""
    options = spec.options
    if options.runtime == "torch":
        options = replace(options, precision=precision)  # type: ignore[arg-type]
    model_config = Path(spec.model_config) if spec.model_config else None
    return replace(spec, device=device, options=options,
                   identity=identity(Path(spec.checkpoint or ""), model_config, numerics(options)))


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
        from sharpnet.config import MAX_INPUT_SIZE, ModelConfigError, load_model_config
        from sharpnet.predictor import CheckpointError, Predictor

        try:
            cfg = load_model_config(spec.model_config) if spec.model_config else None
            predictor = Predictor.load(
                Path(spec.checkpoint), cfg, device=spec.device, options=spec.options, onnx_dir=spec.onnx_dir,
            )
            if spec.options.runtime == "onnxruntime":
                predictor.prepare(MAX_INPUT_SIZE)  # export (once per model) before serving, not in a request
        except (ModelConfigError, CheckpointError, ValueError) as exc:
            raise BackendUnavailable(str(exc)) from None
        except RuntimeError as exc:  # e.g. out of memory, or the device vanished
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BackendUnavailable(f"cannot load SHARP on {spec.device}: {first}") from None
        return cls(predictor)

    def reconfigure(self, options: InferenceOptions) -> None:
        """Compute the way ``options`` say from now on (auto-tune's choice reaching this worker)."""
        self.predictor.reconfigure(options)

    def predict(self, rgb: np.ndarray, f_px: float, input_size: int) -> Gaussians:
        prediction = self.predictor.predict(rgb, f_px, input_size)
        self.last_forward_s = prediction.timings.get("inference")
        return prediction.gaussians

    def predict_batch(self, rgbs: list[np.ndarray], f_pxs: list[float], input_size: int) -> list[Gaussians]:
        """Several photos at one input side through one forward (``optimization.max_batch_size``)."""
        predictions = self.predictor.predict_batch(rgbs, f_pxs, input_size)
        self.last_forward_s = predictions[0].timings.get("inference")
        return [p.gaussians for p in predictions]
