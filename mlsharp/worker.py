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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class WorkerTask:
    rgb: np.ndarray
    f_px: float
    input_size: int
    output_path: str  # the worker writes here atomically (temp file + rename)


@dataclass(frozen=True)
class WorkerResult:
    num_gaussians: int
    inference: float
    ply_save: float
    pid: int


def init_worker(spec: BackendSpec, progress: Any = None) -> None:
    global _backend, _spec, _load_error, _load_seconds, _progress
    # Ctrl+C in a terminal reaches the whole process group; the server decides when workers stop
    # (it finishes or cancels their task, then shuts them down), so they ignore it themselves.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _spec, _progress = spec, progress
    start = time.perf_counter()
    try:
        if not spec.is_preview:
            from mlsharp.gpu import make_gpu_manager

            make_gpu_manager(spec.mode, spec.amp, spec.cudnn_benchmark)  # applies cuDNN/AMP settings
        _backend = load_backend(spec)
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
    """Whether this process's backend loaded, how long it took, and why not if it failed."""
    return {
        "pid": os.getpid(),
        "backend": _spec.name if _spec else None,
        "loaded": _backend is not None,
        "error": _load_error,
        "load_seconds": _load_seconds,
    }


def run_task(task: WorkerTask) -> WorkerResult:
    from sharpnet.utils.ply import save_ply

    backend = _require_backend()
    report("inference")
    t0 = time.perf_counter()
    gaussians = backend.predict(task.rgb, task.f_px, task.input_size)
    t1 = time.perf_counter()
    report("saving")
    height, width = task.rgb.shape[:2]
    save_ply(gaussians, task.f_px, width, height, Path(task.output_path))
    t2 = time.perf_counter()
    return WorkerResult(len(gaussians), t1 - t0, t2 - t1, os.getpid())


def synthetic_photo(side: int) -> np.ndarray:
    """A deterministic test card (gradients + checker) for auto-tune runs."""
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    checker = ((np.arange(side)[:, None] // 32 + np.arange(side)[None, :] // 32) % 2) * 60.0
    red = np.broadcast_to(ramp[None, :], (side, side))
    green = np.broadcast_to(ramp[:, None], (side, side))
    blue = np.full((side, side), 128.0, dtype=np.float32) + checker
    return np.clip(np.stack([red, green, blue], axis=-1), 0, 255).astype(np.uint8)


def auto_tune(test_size: int, input_size: int, warmup_runs: int, test_runs: int) -> dict:
    """Untimed warm-up runs (cuDNN autotuning, allocator growth), then timed runs; returns seconds."""
    backend = _require_backend()
    rgb = synthetic_photo(test_size)
    f_px = float(test_size)
    for _ in range(warmup_runs):
        backend.predict(rgb, f_px, input_size)
    times = []
    for _ in range(test_runs):
        start = time.perf_counter()
        backend.predict(rgb, f_px, input_size)
        times.append(time.perf_counter() - start)
    return {
        "test_size": test_size,
        "input_size": input_size,
        "runs": test_runs,
        "mean_s": float(np.mean(times)),
        "min_s": float(np.min(times)),
        "pid": os.getpid(),
    }
