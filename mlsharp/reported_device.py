"""The compute device as the workers reported it, for a server process that never imports torch.

Health, stats and the metrics' ``gpu_info`` use the worker's :meth:`gpu_utils.GPUManager.info`;
GPU memory and utilisation are read here at scrape time through the vendor library (NVML via
``nvidia-ml-py``, AMD SMI), which needs no torch. Where no vendor library can read the device
(Intel, Apple) the readings are empty rather than stale.
"""

from __future__ import annotations

from typing import Any

from gpu_utils import VendorLibrary


class ReportedDevice:
    """Looks like the part of ``GPUManager`` that :class:`metrics.MetricsManager` reads."""

    def __init__(self) -> None:
        self._info: dict[str, Any] | None = None
        self._library: VendorLibrary | None = None
        self.described: str | None = None  # the worker's one-line description, for the start-up log

    def adopt(self, report: dict[str, Any]) -> None:
        """Take a worker's :func:`mlsharp.worker.ping` report (no device in it: the CPU preview)."""
        self._info = report.get("device")
        self.described = report.get("described")
        gpu = report.get("gpu")
        self._library = VendorLibrary(gpu) if gpu is not None else None

    @property
    def device(self) -> str:
        return str((self._info or {}).get("device") or "cpu")

    def info(self) -> dict[str, Any]:
        return dict(self._info or {"device": "cpu"})

    def memory_readings(self) -> list[dict[str, Any]]:
        reading = self._library.reading() if self._library is not None else None
        return [reading] if reading is not None else []
