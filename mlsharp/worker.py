"""Code that runs inside a worker process of :class:`mlsharp.pool.WorkerPool`.

The initializer builds the backend once per process. A load failure is remembered rather than
raised: an initializer that raises would only show up as an anonymous ``BrokenProcessPool``,
whereas :func:`ping` can carry the reason back so the server can log it and fall back.

Progress goes through the one-way pipe handed to the initializer: every task is wrapped by
:func:`invoke`, which first sends ``(token, "started")`` (so the server can tell a task that never
ran from one that crashed) and then lets the task send ``(token, stage)`` via :func:`report`.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlsharp.backends.base import Backend, BackendSpec, load_backend

_backend: Backend | None = None
_spec: BackendSpec | None = None
_load_error: str | None = None
_load_seconds: float = 0.0
_progress: Any = None  # sending end of a multiprocessing pipe, or None
_current_token: str | None = None
_gpu: Any = None  # the worker's GPUManager (None for the preview backend)
_device_error: bool = False  # the load failed because a forced --mode's device is absent


def _choose_device(spec: BackendSpec) -> BackendSpec:
    """Detect the device here, in the worker (the server never imports torch), and fill in what
    the server left open: the device and precision, and the identity that names them.

    The preview computes on the CPU with numpy: it needs no torch, except to check a forced
    ``--mode`` (the user asked for that hardware, so its absence is an error either way)."""
    global _gpu
    if spec.is_preview and spec.mode in ("auto", "cpu"):
        return spec
    from gpu_utils import GPUManager

    _gpu = GPUManager(spec.mode, spec.amp, spec.cudnn_benchmark, spec.tf32)  # applies the switches
    if spec.is_preview or spec.device is not None:
        return spec
    from mlsharp.backends.sharp import on_device

    return on_device(spec, _gpu.target.device, _gpu.precision)


def init_worker(spec: BackendSpec, progress: Any = None, parent_pid: int | None = None) -> None:
    global _backend, _spec, _load_error, _load_seconds, _progress, _device_error
    # First of all: a server that dies (even SIGKILLed) takes this process with it (mlsharp.lifeline).
    if parent_pid is not None:
        from mlsharp.lifeline import bind_to_parent

        bind_to_parent(parent_pid)
    # Ctrl+C in a terminal reaches the whole process group; the server decides when workers stop
    # (it finishes or cancels their task, then shuts them down), so they ignore it themselves.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _spec, _progress = spec, progress
    start = time.perf_counter()
    from gpu_utils import DeviceUnavailableError

    try:
        _spec = spec = _choose_device(spec)
        _backend = load_backend(spec)
    except DeviceUnavailableError as exc:  # its message is already the one line to show
        _backend, _device_error, _load_error = None, True, str(exc).splitlines()[0]
    except Exception as exc:  # noqa: BLE001 - reported through ping() / run_task()
        _backend = None
        text = str(exc).splitlines()[0] if str(exc) else ""
        _load_error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    _load_seconds = time.perf_counter() - start


def _send(token: str, stage: str) -> None:
    if _progress is not None:
        try:
            _progress.send((token, stage))
        except Exception:  # noqa: BLE001 - progress is best effort, the result is not
            pass


def report(stage: str) -> None:
    """Tell the server which stage the current task has reached."""
    if _current_token is not None:
        _send(_current_token, stage)


def invoke(token: str, fn: Any, args: tuple) -> Any:
    """Run ``fn(*args)`` as the task identified by ``token`` (announcing its start first)."""
    global _current_token
    _current_token = token
    _send(token, "started")
    try:
        return fn(*args)
    finally:
        _current_token = None


def _require_backend() -> Backend:
    if _backend is None:
        raise RuntimeError(f"backend failed to load: {_load_error or 'worker not initialised'}")
    return _backend


def ping() -> dict:
    """Whether this process's backend loaded, how long it took, why not if it failed, and the
    recipe as resolved here (device, precision, identity) with the device's facts, which the
    server reports in health, stats and metrics and reads GPU memory with (no torch there)."""
    return {
        "pid": os.getpid(),
        "backend": _spec.name if _spec else None,
        "loaded": _backend is not None,
        "error": _load_error,
        "device_error": _device_error,
        "load_seconds": _load_seconds,
        "options": _options_label(),
        "spec": _spec,
        "device": _gpu.info() if _gpu is not None else None,
        "gpu": _gpu.target.gpu if _gpu is not None else None,
        "described": _gpu.describe() if _gpu is not None else None,
    }


def _options_label() -> str | None:
    """How this worker's network actually runs (read from its predictor, not from the recipe)."""
    options = getattr(getattr(_backend, "predictor", None), "options", None)
    return getattr(options, "label", None)


def loaded() -> tuple[Backend, BackendSpec]:
    """This process's backend and the recipe it was built from (for the job steps)."""
    assert _spec is not None
    return _require_backend(), _spec


def adopt_precision(precision: str) -> None:
    """Record an auto-tune's precision in this process's spec, so cache keys name the arithmetic
    actually used (a worker that tunes itself, outside a pool)."""
    global _spec
    if _spec is None or _spec.is_preview or _spec.precision == precision:
        return
    from dataclasses import replace

    from mlsharp.backends import sharp as sharp_backend

    model_config = Path(_spec.model_config) if _spec.model_config else None
    _spec = replace(_spec, precision=precision,
                    identity=sharp_backend.identity(Path(_spec.checkpoint), model_config, precision))


def synthetic_photo(side: int) -> np.ndarray:
    """A deterministic test card (gradients + checker) for auto-tune runs."""
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    checker = ((np.arange(side)[:, None] // 32 + np.arange(side)[None, :] // 32) % 2) * 60.0
    red = np.broadcast_to(ramp[None, :], (side, side))
    green = np.broadcast_to(ramp[:, None], (side, side))
    blue = np.full((side, side), 128.0, dtype=np.float32) + checker
    return np.clip(np.stack([red, green, blue], axis=-1), 0, 255).astype(np.uint8)


def _reconfigure(options: Any) -> None:
    """The loaded network computes as ``options`` say (a predictor method: no reaching into the model)."""
    reconfigure = getattr(_backend, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(options)


def _apply_switches(amp: bool, tf32: bool, cudnn_benchmark: bool, fast: str = "") -> dict:
    """Set this process's torch switches and the network's fast paths; returns the options in effect."""
    from dataclasses import asdict, replace

    from sharpnet.options import InferenceOptions

    base = _spec.options if _spec is not None else InferenceOptions()
    if _gpu is None:
        return asdict(base)
    tuned = _gpu.with_options(amp=amp, tf32=tf32, cudnn_benchmark=cudnn_benchmark)
    tuned.apply()
    extra = InferenceOptions.from_label(fast) if fast else None
    options = replace(
        base, precision=tuned.precision if not (extra and extra.runtime != "torch") else "fp32",
        quantization=extra.quantization if extra else base.quantization,
        channels_last=extra.channels_last if extra else base.channels_last,
        runtime=extra.runtime if extra else base.runtime,
    )
    _reconfigure(options)
    return asdict(options)


def apply_tuning(switches: dict) -> dict:
    """Bring this worker to the auto-tune's choice: the tuning ran in one worker, and every other
    one must compute the same way (the cache key names the numerics)."""
    _require_backend()
    return _apply_switches(bool(switches["amp"]), bool(switches["tf32"]), bool(switches["cudnn_benchmark"]),
                           str(switches.get("fast", "")))


def tuning_fast_paths(device: str) -> list[str]:
    """Fast paths beyond the GPU switches that an auto-tune may try on ``device``."""
    from sharpnet.onnx_runtime import onnxruntime_missing

    # On a CPU the convolution decoders are ~40% of an int8 forward, and NHWC cut that forward by
    # ~12% at 1536 here (bench_network.py), so the layouts are tried with and without int8 (float
    # first: undoing int8 means reloading the weights).
    paths = ["channels_last", "int8", "int8+channels_last"] if str(device) == "cpu" else ["channels_last"]
    if onnxruntime_missing() is None:
        paths += ["ort", "ort+int8"]
    return paths


def auto_tune(
    test_size: int, input_size: int, warmup_runs: int, test_runs: int, cache_path: str | None = None
) -> dict:
    """Benchmark the applicable switch combinations on a synthetic photo and keep the fastest whose
    Gaussians stay within tolerance of float32 (see mlsharp.autotune); the choice is remembered per
    device + driver + torch in ``cache_path`` and re-applied here. Preview: times the backend as is.
    """
    from mlsharp.autotune import Candidate, TuneCache, auto_tune as run_auto_tune, fast_path_candidates
    from mlsharp.autotune import standard_candidates

    backend = _require_backend()
    rgb = synthetic_photo(test_size)
    f_px = float(test_size)
    gpu = _gpu
    if gpu is None:
        candidates = [Candidate("baseline")]
        key = {"backend": backend.name, "test_size": test_size}
    else:
        candidates = standard_candidates(**{**gpu.tuning_capabilities(), "compile": False})
        candidates += fast_path_candidates(candidates[0], tuning_fast_paths(_spec.device if _spec else "cuda"))
        key = {**gpu.tuning_key(), "model": getattr(backend, "model_id", backend.name),
               "test_size": test_size, "input_size": input_size}

    def configure(candidate: Candidate) -> dict:
        return _apply_switches(candidate.amp, candidate.tf32, candidate.cudnn_benchmark, candidate.fast)

    def run(candidate: Candidate):
        configure(candidate)
        return backend.predict(rgb, f_px, input_size)

    def close(a, b) -> bool:
        # Compare geometry relative to scene depth; colours and opacities absolutely.
        depth = float(np.abs(b.mean_vectors[:, 2]).max()) or 1.0
        return (
            float(np.abs(a.mean_vectors - b.mean_vectors).max()) <= 5e-2 * depth
            and float(np.abs(a.colors - b.colors).max()) <= 1e-2
            and float(np.abs(a.opacities - b.opacities).max()) <= 1e-2
        )

    result = run_auto_tune(
        candidates, run, warmup_runs=warmup_runs, test_runs=test_runs, close=close,
        synchronize=gpu.synchronize if gpu is not None else (lambda: None),
        cache=TuneCache(Path(cache_path)) if cache_path else None, key=key,
    )
    options = configure(result.choice)
    chosen = next((m for m in result.measurements if m.name == result.choice.name), None)
    return {
        **result.to_dict(),
        "test_size": test_size,
        "input_size": input_size,
        "runs": test_runs,
        "precision": options.get("precision", "fp32"),
        "options": options,
        "mean_s": chosen.mean_s if chosen else None,
        "min_s": min(chosen.times) if chosen and chosen.times else None,
        "pid": os.getpid(),
    }
