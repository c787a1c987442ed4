"""Which device runs the network, at which precision, with which backend switches (in a worker).

The rules live in :mod:`mlsharp.device_policy` and the readings in :mod:`mlsharp.gpu_readings`
(both torch-free, for the API server); this module detects the facts and applies the decisions.

Every decision is a pure function of a :class:`DeviceFacts` snapshot, so the rules (which vendor
wins in ``auto``, what a forced mode needs, when TF32 or bf16 is safe) are tested on any machine by
building facts by hand. Only :func:`detect_facts` and the few :class:`GPUManager` methods that touch
the hardware (``apply``, ``memory_readings``, ``synchronize``) read or
change torch state; importing this module does neither (torch itself is imported lazily).

Vendors as PyTorch sees them: NVIDIA and AMD both appear as ``cuda`` devices (a ROCm build sets
``torch.version.hip``), Intel GPUs as ``xpu``, Apple Silicon as ``mps``.
"""

from __future__ import annotations

import contextlib
import os
import platform
from typing import Any

from mlsharp.device_policy import (  # noqa: F401 - the rules, re-exported for callers of gpu_utils
    DeviceFacts,
    DeviceUnavailableError,
    GpuFacts,
    MODES,
    PrecisionPolicy,
    Target,
    _VENDOR_TITLE,
    amd_bf16_native,
    amp_kind,
    backend_switches,
    choose_device,
    normalize_mode,
    precision_policy,
    tf32_supported,
    thread_count,
)
from mlsharp.gpu_readings import (  # noqa: F401 - re-exported
    VendorLibrary,
    _mb,
    amdsmi_reading,
    nvml_reading,
    torch_reading,
)


# ------------------------------------------------------------------------------------ detection


def _cpu_name() -> str:
    name = platform.processor() or ""
    if not name or name in ("x86_64", "i386", "arm", "aarch64"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.lower().startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return name or platform.machine() or "cpu"


def _nvidia_driver_version() -> str | None:
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # noqa: BLE001 - NVML is optional
        pass
    try:
        import torch

        api = int(torch._C._cuda_getDriverVersion())  # CUDA driver API level, e.g. 12040
        return f"CUDA driver API {api // 1000}.{api % 1000 // 10}"
    except Exception:  # noqa: BLE001
        return None


def _cuda_gpus(torch: Any) -> list[GpuFacts]:
    hip = getattr(torch.version, "hip", None)
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        if hip:
            arch = str(getattr(props, "gcnArchName", "") or "").split(":")[0] or None
            gpus.append(GpuFacts("cuda", "amd", props.name, index, _mb(props.total_memory),
                                 arch=arch, bf16=amd_bf16_native(arch),
                                 uuid=str(getattr(props, "uuid", "")) or None))
        else:
            capability = (int(props.major), int(props.minor))
            gpus.append(GpuFacts("cuda", "nvidia", props.name, index, _mb(props.total_memory),
                                 capability=capability, bf16=capability >= (8, 0),
                                 uuid=str(getattr(props, "uuid", "")) or None))
    return gpus


def _xpu_gpus(torch: Any) -> list[GpuFacts]:
    xpu = getattr(torch, "xpu", None)
    if xpu is None or not xpu.is_available():
        return []
    gpus = []
    for index in range(xpu.device_count()):
        props = xpu.get_device_properties(index)
        try:
            bf16 = bool(xpu.is_bf16_supported())
        except Exception:  # noqa: BLE001
            bf16 = False
        gpus.append(GpuFacts("xpu", "intel", props.name, index, _mb(getattr(props, "total_memory", None)),
                             bf16=bf16))
    return gpus


def _mps_gpus(torch: Any) -> list[GpuFacts]:
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        return []
    try:
        total = _mb(torch.mps.recommended_max_memory())
    except Exception:  # noqa: BLE001 - older torch
        total = None
    return [GpuFacts("mps", "apple", f"Apple {platform.machine() or 'Silicon'} GPU (MPS)", 0, total)]


def _cpu_bf16(torch: Any) -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001
        return False


def detect_facts() -> DeviceFacts:
    """Read the machine as the installed PyTorch sees it. Each probe may fail on its own."""
    import importlib.util

    import torch

    gpus: list[GpuFacts] = []
    for probe in (_cuda_gpus, _xpu_gpus, _mps_gpus):
        try:
            if probe is _cuda_gpus and not torch.cuda.is_available():
                continue
            gpus.extend(probe(torch))
        except Exception:  # noqa: BLE001 - a broken driver means "not there", not a crash
            continue
    hip = getattr(torch.version, "hip", None)
    driver = None
    if any(g.vendor == "nvidia" for g in gpus):
        driver = _nvidia_driver_version()
    elif any(g.vendor == "intel" for g in gpus):
        with contextlib.suppress(Exception):
            driver = str(torch.xpu.get_device_properties(0).driver_version)
    return DeviceFacts(
        gpus=tuple(gpus),
        torch_version=str(torch.__version__),
        cuda_runtime=getattr(torch.version, "cuda", None),
        hip_runtime=hip,
        driver_version=driver,
        cpu_name=_cpu_name(),
        cpu_count=os.cpu_count() or 1,
        cpu_threads=torch.get_num_threads(),
        cpu_bf16=_cpu_bf16(torch),
        triton=importlib.util.find_spec("triton") is not None,
    )


# -------------------------------------------------------------------------------------- manager


class GPUManager:
    """The device and precision this process computes with.

    Construction chooses the device (raising :class:`DeviceUnavailableError` for a forced mode
    whose hardware is absent) and, unless ``apply=False``, applies the backend switches, so a
    worker process only has to build one. ``facts`` replaces detection (tests, benches).
    """

    def __init__(self, mode: str = "auto", amp: bool = True, cudnn_benchmark: bool = True, tf32: bool = True,
                 *, cpu_threads: int | None = None, cpu_amp: bool = False, facts: DeviceFacts | None = None,
                 apply: bool = True) -> None:
        self.mode = normalize_mode(mode)
        self.facts = facts if facts is not None else detect_facts()
        self.target = choose_device(self.mode, self.facts)
        self.amp, self.tf32, self.cpu_amp = bool(amp), bool(tf32), bool(cpu_amp)
        self.cudnn_benchmark = bool(cudnn_benchmark)
        self.policy = precision_policy(self.target, self.amp, tf32=self.tf32, cudnn_benchmark=self.cudnn_benchmark,
                                       cpu_amp=self.cpu_amp)
        self.cpu_threads = thread_count(self.facts, cpu_threads)
        self._library = VendorLibrary(self.target.gpu) if self.target.gpu else None
        if apply:
            self.apply()

    # -- identity

    @property
    def device(self) -> Any:
        import torch

        return torch.device(self.target.device)

    @property
    def vendor(self) -> str:
        return self.target.vendor

    @property
    def name(self) -> str:
        return self.target.gpu.name if self.target.gpu else self.facts.cpu_name

    @property
    def precision(self) -> str:
        """The autocast in use as sharpnet's ``InferenceOptions.precision`` spells it: fp32, fp16 or bf16."""
        return self.policy.precision

    def with_options(self, *, amp: bool | None = None, tf32: bool | None = None,
                     cudnn_benchmark: bool | None = None) -> GPUManager:
        """A manager for the same device with other switches (auto-tune candidates); not yet applied."""
        return GPUManager(
            self.mode,
            self.amp if amp is None else amp,
            self.cudnn_benchmark if cudnn_benchmark is None else cudnn_benchmark,
            self.tf32 if tf32 is None else tf32,
            cpu_threads=self.cpu_threads, cpu_amp=self.cpu_amp, facts=self.facts, apply=False,
        )

    def info(self) -> dict[str, Any]:
        gpu = self.target.gpu
        return {
            "vendor": self.vendor,
            "name": self.name,
            "device": self.target.device,
            "mode": self.mode,
            "memory_total_mb": gpu.memory_total_mb if gpu else None,
            "compute_capability": f"{gpu.capability[0]}.{gpu.capability[1]}" if gpu and gpu.capability else None,
            "arch": gpu.arch if gpu else None,
            "amp_dtype": self.policy.amp_dtype,
            "tf32": self.policy.tf32,
            "cudnn_benchmark": self.policy.cudnn_benchmark,
            "cpu_threads": self.cpu_threads if self.cpu_threads is not None else self.facts.cpu_threads,
            "runtime": self.runtime(),
            "driver_version": self.facts.driver_version,
            "torch_version": self.facts.torch_version,
        }

    def runtime(self) -> str | None:
        if self.target.kind == "cuda":
            if self.facts.hip_runtime:
                return f"ROCm {self.facts.hip_runtime}"
            return f"CUDA {self.facts.cuda_runtime}" if self.facts.cuda_runtime else None
        return {"xpu": "XPU", "mps": "MPS"}.get(self.target.kind)

    def tuning_key(self) -> dict[str, str]:
        """What a remembered auto-tune choice is valid for: this device, its driver/runtime, this torch.

        On the CPU the thread count is part of it (it changes which configuration wins).
        """
        key = {"device": self.name, "vendor": self.vendor, "driver": self.facts.driver_version or "",
               "runtime": self.runtime() or "", "torch": self.facts.torch_version}
        if self.target.gpu is None:
            key["threads"] = str(self.info()["cpu_threads"])
        return key

    def tuning_capabilities(self) -> dict[str, bool]:
        """Which switches an auto-tune may try here: supported by the device and not turned off by the user.

        On the CPU, AMP is tried only where bf16 is native (emulated bf16 only loses time).
        """
        on_cpu = self.target.gpu is None
        return {
            "amp": self.amp and (self.facts.cpu_bf16 if on_cpu else amp_kind(self.target) is not None),
            "tf32": self.tf32 and tf32_supported(self.target),
            "cudnn_benchmark": self.cudnn_benchmark and self.target.kind == "cuda",
            "compile": self.facts.triton and self.target.kind in ("cuda", "xpu"),
        }

    # -- global torch state

    def apply(self) -> dict[str, Any]:
        """Set the backend switches of this manager's policy; applying twice changes nothing more."""
        import torch

        switches = backend_switches(self.target, self.policy, self.cpu_threads)
        for name, value in switches.items():
            if name == "cudnn.benchmark":
                torch.backends.cudnn.benchmark = value
            elif name == "cudnn.allow_tf32":
                torch.backends.cudnn.allow_tf32 = value
            elif name == "float32_matmul_precision":
                torch.set_float32_matmul_precision(value)
            elif name == "num_threads" and torch.get_num_threads() != value:
                torch.set_num_threads(value)
        return switches

    def synchronize(self) -> None:
        """Wait for queued device work, so a timer reads compute time rather than launch time."""
        kind = self.target.kind
        if kind == "cpu":
            return
        import torch

        if kind == "cuda":
            torch.cuda.synchronize(self.target.device)
        elif kind == "xpu":
            torch.xpu.synchronize(self.target.device)
        elif kind == "mps":
            torch.mps.synchronize()

    # -- readings

    def memory_readings(self) -> list[dict[str, Any]]:
        """Memory (MB) and utilisation (%) of the device in use: vendor library first, torch otherwise,
        [] on the CPU or when nothing can be read."""
        gpu = self.target.gpu
        if gpu is None:
            return []
        if self._library is not None:
            reading = self._library.reading()
            if reading is not None:
                return [reading]
        try:
            import torch

            return [torch_reading(torch, gpu)]
        except Exception:  # noqa: BLE001 - metrics never take the service down
            return []

    def describe(self) -> str:
        """One line for the start-up log."""
        info = self.info()
        parts = [f"{_VENDOR_TITLE.get(self.vendor, self.vendor)} {info['name']} ({info['device']})"]
        if info["memory_total_mb"]:
            parts.append(f"{info['memory_total_mb'] / 1024:.1f} GiB")
        if info["compute_capability"]:
            parts.append(f"capability {info['compute_capability']}")
        if info["runtime"]:
            parts.append(info["runtime"])
        parts.append(f"precision {self.precision}")
        if info["tf32"]:
            parts.append("TF32")
        if info["cudnn_benchmark"]:
            parts.append("cuDNN benchmark")
        parts.append(f"{info['cpu_threads']} CPU threads")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"GPUManager(mode={self.mode!r}, device={self.target.device!r}, precision={self.precision!r})"

