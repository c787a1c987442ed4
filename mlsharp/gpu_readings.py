"""GPU memory and utilisation readings: the vendor libraries (NVML, AMD SMI) first, torch last.

The vendor libraries need no torch, so the API server reads the workers' device through
:class:`VendorLibrary` alone (:mod:`mlsharp.reported_device`); ``gpu_utils.GPUManager`` adds the
torch fallback in the worker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from mlsharp.device_policy import GpuFacts

MB = 1024 * 1024


def _mb(n_bytes: Any) -> float | None:
    try:
        return round(float(n_bytes) / MB, 1)
    except (TypeError, ValueError):
        return None


def nvml_reading(nvml: Any, handle: Any, device_id: int, name: str) -> dict[str, Any]:
    """One reading from NVML: board-wide memory (all processes) and utilisation over the last sample."""
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    try:
        utilization = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except Exception:  # noqa: BLE001 - not supported on some boards (e.g. MIG slices)
        utilization = None
    return {"device_id": device_id, "name": name, "used_mb": _mb(memory.used), "total_mb": _mb(memory.total),
            "utilization_percent": utilization}


def amdsmi_reading(amdsmi: Any, handle: Any, device_id: int, name: str) -> dict[str, Any]:
    """One reading from AMD SMI (its VRAM figures are already in MB)."""
    vram = amdsmi.amdsmi_get_gpu_vram_usage(handle)
    try:
        activity = amdsmi.amdsmi_get_gpu_activity(handle).get("gfx_activity")
        utilization = float(activity) if isinstance(activity, (int, float)) else None
    except Exception:  # noqa: BLE001
        utilization = None
    return {"device_id": device_id, "name": name, "used_mb": float(vram["vram_used"]),
            "total_mb": float(vram["vram_total"]), "utilization_percent": utilization}


def torch_reading(torch: Any, gpu: GpuFacts) -> dict[str, Any]:
    """Memory as torch sees it when no vendor library is importable; utilisation is unknown."""
    used = total = None
    if gpu.kind in ("cuda", "xpu"):
        module = getattr(torch, gpu.kind)
        try:
            free, total_bytes = module.mem_get_info(gpu.index)  # board-wide, like the vendor tools
            used, total = _mb(total_bytes - free), _mb(total_bytes)
        except Exception:  # noqa: BLE001 - fall back to this process's allocator
            used = _mb(module.memory_reserved(gpu.index))
    elif gpu.kind == "mps":
        used = _mb(torch.mps.driver_allocated_memory())
    return {"device_id": gpu.index, "name": gpu.name, "used_mb": used,
            "total_mb": total if total is not None else gpu.memory_total_mb, "utilization_percent": None}


class VendorLibrary:
    """Lazily opened NVML / AMD SMI handle for one device; remembers a failure instead of retrying it
    on every metrics scrape."""

    def __init__(self, gpu: GpuFacts) -> None:
        self.gpu = gpu
        self._read: Callable[[], dict[str, Any]] | None = None
        self._failed = False

    def reading(self) -> dict[str, Any] | None:
        if self._failed:
            return None
        try:
            if self._read is None:
                self._read = self._open()
            return self._read()
        except Exception:  # noqa: BLE001 - optional library, wrong handle, driver hiccup
            self._failed, self._read = True, None
            return None

    def _open(self) -> Callable[[], dict[str, Any]]:
        gpu = self.gpu
        if gpu.vendor == "nvidia":
            import pynvml  # type: ignore[import-not-found]

            pynvml.nvmlInit()
            handle = None
            if gpu.uuid:
                uuid = gpu.uuid if gpu.uuid.startswith(("GPU-", "MIG-")) else f"GPU-{gpu.uuid}"
                with contextlib.suppress(Exception):
                    handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)
            if handle is None:
                handle = pynvml.nvmlDeviceGetHandleByIndex(gpu.index)
            return lambda: nvml_reading(pynvml, handle, gpu.index, gpu.name)
        if gpu.vendor == "amd":
            import amdsmi  # type: ignore[import-not-found]

            amdsmi.amdsmi_init()
            handle = amdsmi.amdsmi_get_processor_handles()[gpu.index]
            return lambda: amdsmi_reading(amdsmi, handle, gpu.index, gpu.name)
        raise LookupError(f"no vendor library for {gpu.vendor}")
