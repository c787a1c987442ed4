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
from sharpnet.fast_paths import apply_fast_paths, check_supported
from sharpnet.gaussians import Gaussians
from sharpnet.geometry import unproject
from sharpnet.models import SharpNetwork, build_model
from sharpnet.models.composer import GaussianTensors
from sharpnet.options import InferenceOptions



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
    """A loaded network on a device, run the way its :class:`InferenceOptions` say.

    ``onnx_dir`` is where the onnxruntime runtime keeps its exports (one per input side, made on
    first use); it is only needed for that runtime.
    """

    def __init__(
        self,
        model: SharpNetwork,
        device: str | torch.device = "cpu",
        model_id: str = "custom",
        options: InferenceOptions | None = None,
        onnx_dir: str | Path | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.model_id = model_id
        self.onnx_dir = Path(onnx_dir) if onnx_dir is not None else None
        self.options = InferenceOptions()
        self._run: object = self.model
        self._runners: dict[int, object] = {}
        self._reload: object = None  # rebuilds the float weights when int8 must be undone
        self.reconfigure(InferenceOptions() if options is None else options)

    def reconfigure(self, options: InferenceOptions) -> None:
        """Run from now on as ``options`` say, in place (workers switch after an auto-tune this way).

        Undoing int8 quantization needs the float weights again, which only a predictor made by
        :meth:`load` can fetch; everything else switches without a reload.
        """
        check_supported(options, self.device)
        if options.runtime == "onnxruntime":
            from sharpnet.onnx_runtime import onnxruntime_missing

            missing = onnxruntime_missing()
            if missing:
                raise ValueError(f"runtime onnxruntime: {missing}")
            if self.onnx_dir is None:
                raise ValueError("runtime onnxruntime needs a directory for its exports (onnx_dir)")
        from sharpnet.fast_paths import is_quantized

        if is_quantized(self.model) and not (options.int8 and options.runtime == "torch"):
            if self._reload is None:
                raise ValueError("this predictor's ViT is quantized and it cannot reload float weights")
            self.model = self._reload().to(self.device).eval()
        if options.runtime == "torch":
            self._run = apply_fast_paths(self.model, options, self.device)
        else:
            apply_fast_paths(self.model, InferenceOptions(segments=options.segments), self.device)
            self._run = None
        if options.runtime != self.options.runtime or options.int8 != self.options.int8:
            self._runners.clear()
        self.options = options

    def prepare(self, input_size: int) -> None:
        """Make ready what the first forward at ``input_size`` would otherwise pay for (the ONNX
        export and session); nothing for torch."""
        self.runner_for(snap_input_size(input_size))

    def runner_for(self, side: int):
        """The callable for one input side: the torch network, or that side's ONNX session."""
        if self.options.runtime == "torch":
            return self._run
        runner = self._runners.get(side)
        if runner is None:
            from sharpnet.onnx_export import ensure_onnx
            from sharpnet.onnx_runtime import OnnxRunner

            path = ensure_onnx(self.model, self.model_id, side, self.onnx_dir, int8=self.options.int8)
            runner = self._runners[side] = OnnxRunner(path, self.device)
        return runner

    @classmethod
    def load(
        cls,
        checkpoint: str | Path | None,
        model_config: SharpConfig | None = None,
        device: str | torch.device = "cpu",
        checkpoint_segments: int = 1,
        options: InferenceOptions | None = None,
        onnx_dir: str | Path | None = None,
    ) -> "Predictor":
        """A predictor with weights from ``checkpoint`` (``None``: random weights, for benchmarks).

        ``options`` selects fast paths; without it, plain float32 with ``checkpoint_segments``.
        """
        cfg = SharpConfig() if model_config is None else model_config
        options = InferenceOptions(segments=checkpoint_segments) if options is None else options
        if checkpoint is None:
            rng = torch.get_rng_state()  # a reload must give the same random weights

            def build() -> SharpNetwork:
                caller = torch.get_rng_state()
                torch.set_rng_state(rng)
                network = build_model(cfg)
                if not torch.equal(caller, rng):  # a reload: leave the caller's generator alone
                    torch.set_rng_state(caller)
                return network

            model_id = "random-init"
        else:
            def build() -> SharpNetwork:
                network = build_model(cfg, device="meta")  # weights are assigned, never allocated twice
                load_weights(network, load_state_dict(checkpoint), source=str(checkpoint))
                return network

            stat = Path(checkpoint).stat()
            model_id = hashlib.sha256(
                f"{Path(checkpoint).name}:{stat.st_size}:{cfg!r}".encode()
            ).hexdigest()[:16]
        predictor = cls(build(), device=device, model_id=model_id, onnx_dir=onnx_dir)
        predictor._reload = build
        predictor.reconfigure(options)
        return predictor

    @torch.inference_mode()
    def forward(self, image: torch.Tensor, disparity_factor: float | list[float]) -> GaussianTensors:
        """``image`` (B, 3, N, N); one disparity factor (focal px / photo width) per photo."""
        factors = [disparity_factor] if isinstance(disparity_factor, (int, float)) else list(disparity_factor)
        factor = torch.tensor(factors, dtype=torch.float32, device=self.device)
        if self.options.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.runner_for(int(image.shape[-1]))(image, factor)

    @torch.inference_mode()
    def predict(
        self, rgb: np.ndarray, f_px: float, input_size: int = MAX_INPUT_SIZE, keep_ndc: bool = False
    ) -> Prediction:
        """Metric-space Gaussians for an upright (H, W, 3) uint8 photo with focal length ``f_px``."""
        return self.predict_batch([rgb], [f_px], input_size, keep_ndc)[0]

    @torch.inference_mode()
    def predict_batch(
        self, rgbs: list[np.ndarray], f_pxs: list[float], input_size: int = MAX_INPUT_SIZE,
        keep_ndc: bool = False,
    ) -> list[Prediction]:
        """Several photos through one forward at the same input side (what a GPU is fastest at).

        Every photo's result equals its own :meth:`predict` within float tolerance: the network
        treats the batch entries independently. ``timings`` are the batch's, shared by each entry.
        """
        if len(rgbs) != len(f_pxs) or not rgbs:
            raise ValueError("predict_batch needs one focal length per photo, and at least one photo")
        input_size = snap_input_size(input_size)
        t0 = time.perf_counter()
        image = torch.cat([preprocess(rgb, input_size, self.device) for rgb in rgbs])
        t1 = time.perf_counter()
        ndc = self.forward(image, [f / rgb.shape[1] for rgb, f in zip(rgbs, f_pxs)])
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        results = []
        for i, (rgb, f_px) in enumerate(zip(rgbs, f_pxs)):
            one = GaussianTensors(*(t[i:i + 1] for t in ndc))
            start = time.perf_counter()
            gaussians = unproject(one, f_px, rgb.shape[1], rgb.shape[0])
            timings = {"preprocess": t1 - t0, "inference": t2 - t1, "unproject": time.perf_counter() - start}
            results.append(Prediction(gaussians, timings, one if keep_ndc else None))
        return results
