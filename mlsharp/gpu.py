"""Access to ``gpu_utils.GPUManager`` with a CPU-only stand-in while that module is absent or broken.

The stand-in only ever claims the CPU, so the service stays honest about where it runs; it exists
so the web service and its tests do not depend on another module landing first.
"""

from __future__ import annotations

import platform
from typing import Any

from loguru import logger


class _FallbackDeviceUnavailableError(RuntimeError):
    """A forced device mode whose hardware is not there."""


class _CpuOnlyManager:
    """Minimal GPUManager look-alike: runs everything on the CPU, reports no GPU readings."""

    def __init__(self, mode: str = "auto", amp: bool = True, cudnn_benchmark: bool = True, tf32: bool = True) -> None:
        if mode not in ("auto", "cpu"):
            raise _FallbackDeviceUnavailableError(
                f"--mode {mode}: GPU support is unavailable (gpu_utils could not be imported)"
            )
        self.mode = mode
        self.amp = amp
        self.cudnn_benchmark = cudnn_benchmark
        self.device = "cpu"
        self.precision = "fp32"

    def info(self) -> dict[str, Any]:
        return {
            "vendor": "cpu",
            "name": platform.processor() or platform.machine() or "cpu",
            "device": "cpu",
            "memory_total_mb": None,
            "compute_capability": None,
            "amp_dtype": None,
        }

    def memory_readings(self) -> list[dict[str, Any]]:
        return []


try:
    from gpu_utils import DeviceUnavailableError, GPUManager  # type: ignore[import-not-found]

    GPU_UTILS_ERROR: str | None = None
except Exception as exc:  # noqa: BLE001 - any failure there must not take the service down
    GPUManager = _CpuOnlyManager  # type: ignore[misc,assignment]
    DeviceUnavailableError = _FallbackDeviceUnavailableError  # type: ignore[misc,assignment]
    GPU_UTILS_ERROR = f"{type(exc).__name__}: {exc}"


def make_gpu_manager(mode: str, amp: bool, cudnn_benchmark: bool, tf32: bool = True) -> Any:
    """A GPUManager for ``mode``; raises DeviceUnavailableError when a forced device is absent."""
    if GPU_UTILS_ERROR is not None:
        logger.warning("gpu_utils unavailable ({}); running on the CPU", GPU_UTILS_ERROR)
    return GPUManager(mode=mode, amp=amp, cudnn_benchmark=cudnn_benchmark, tf32=tf32)


def device_string(manager: Any) -> str:
    return str(getattr(manager, "device", "cpu"))
