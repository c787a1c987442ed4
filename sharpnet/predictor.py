"""Photo in, metric Gaussians out: the inference pipeline, one function per step.

    load (sharpnet.utils.photo) -> preprocess -> forward -> unproject -> save (sharpnet.io.ply)

``Predictor`` owns a loaded network on a device and runs the middle three steps.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sharpnet.config import MAX_INPUT_SIZE, SharpConfig, snap_input_size
from sharpnet.fast_paths import InferenceOptions, apply_fast_paths
from sharpnet.gaussians import Gaussians
from sharpnet.geometry import unproject
from sharpnet.models import SharpNetwork, build_model
from sharpnet.models.composer import GaussianTensors

CHECKPOINT_NAME = "sharp_2572gikvuh.pt"


class CheckpointError(ValueError):
    """The checkpoint is missing, unreadable, or does not fit the configuration (one-line message)."""


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__})") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors")
    return state


def load_weights(model: SharpNetwork, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """``load_state_dict(strict=True)`` with a one-line explanation when it does not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise CheckpointError(f"{source} does not fit the model configuration: " + ", ".join(parts))
    model.load_state_dict(state, strict=True, assign=True)


@dataclass
class Prediction:
    gaussians: Gaussians
    timings: dict[str, float] = field(default_factory=dict)
    ndc: GaussianTensors | None = None  # the network's raw output, kept only when asked for


def preprocess(rgb: np.ndarray, input_size: int, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, N, N) float in [0, 1], resized bilinearly with aligned corners."""
    image = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True))
    if device.type == "cuda":
        image = image.pin_memory()  # only a page-locked source makes the copy truly asynchronous
    image = image.to(device, non_blocking=True)
    image = image.permute(2, 0, 1)[None].float() / 255.0
    return F.interpolate(image, size=(input_size, input_size), mode="bilinear", align_corners=True)


class Predictor:
    def __init__(
        self,
        model: SharpNetwork,
        device: str | torch.device = "cpu",
        model_id: str = "custom",
        options: InferenceOptions | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.options = InferenceOptions() if options is None else options
        self.model = model.to(self.device).eval()
        self.model_id = model_id
        self._run = apply_fast_paths(self.model, self.options, self.device)

    @classmethod
    def load(
        cls,
        checkpoint: str | Path | None,
        model_config: SharpConfig | None = None,
        device: str | torch.device = "cpu",
        checkpoint_segments: int = 1,
        options: InferenceOptions | None = None,
    ) -> "Predictor":
        """A predictor with weights from ``checkpoint`` (``None``: random weights, for benchmarks).

        ``options`` selects fast paths; without it, plain float32 with ``checkpoint_segments``.
        """
        cfg = SharpConfig() if model_config is None else model_config
        options = InferenceOptions(segments=checkpoint_segments) if options is None else options
        if checkpoint is None:
            model = build_model(cfg)
            model_id = "random-init"
        else:
            state = load_state_dict(checkpoint)
            model = build_model(cfg, device="meta")  # weights are assigned, never allocated twice
            load_weights(model, state, source=str(checkpoint))
            stat = Path(checkpoint).stat()
            model_id = hashlib.sha256(
                f"{Path(checkpoint).name}:{stat.st_size}:{cfg!r}".encode()
            ).hexdigest()[:16]
        return cls(model, device=device, model_id=model_id, options=options)

    @torch.inference_mode()
    def forward(self, image: torch.Tensor, disparity_factor: float) -> GaussianTensors:
        factor = torch.tensor([disparity_factor], dtype=torch.float32, device=self.device)
        if self.options.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self._run(image, factor)

    @torch.inference_mode()
    def predict(
        self, rgb: np.ndarray, f_px: float, input_size: int = MAX_INPUT_SIZE, keep_ndc: bool = False
    ) -> Prediction:
        """Metric-space Gaussians for an upright (H, W, 3) uint8 photo with focal length ``f_px``."""
        input_size = snap_input_size(input_size)
        height, width = rgb.shape[:2]
        t0 = time.perf_counter()
        image = preprocess(rgb, input_size, self.device)
        t1 = time.perf_counter()
        ndc = self.forward(image, f_px / width)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        gaussians = unproject(ndc, f_px, width, height)
        t3 = time.perf_counter()
        return Prediction(
            gaussians,
            {"preprocess": t1 - t0, "inference": t2 - t1, "unproject": t3 - t2},
            ndc if keep_ndc else None,
        )
