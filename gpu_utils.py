"""Which device runs the network, at which precision, with which backend switches.

Every decision is a pure function of a :class:`DeviceFacts` snapshot, so the rules (which vendor
wins in ``auto``, what a forced mode needs, when TF32 or bf16 is safe) are tested on any machine by
building facts by hand. Only :func:`detect_facts` and the few :class:`GPUManager` methods that touch
the hardware (``apply``, ``autocast``, ``memory_readings``, ``synchronize``, ``upload``) read or
change torch state; importing this module does neither (torch itself is imported lazily).

Vendors as PyTorch sees them: NVIDIA and AMD both appear as ``cuda`` devices (a ROCm build sets
``torch.version.hip``), Intel GPUs as ``xpu``, Apple Silicon as ``mps``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
from dataclasses import dataclass
from typing import Any, Callable

MODES = ("auto", "gpu", "cpu", "nvidia", "amd", "intel", "mps", "apple")
_MODE_ALIASES = {"apple": "mps"}
_VENDOR_OF_MODE = {"nvidia": "nvidia", "amd": "amd", "intel": "intel", "mps": "apple"}
# ``auto`` prefers the discrete-GPU stacks with the most mature kernels.
_AUTO_ORDER = ("nvidia", "amd", "intel", "apple")
_VENDOR_TITLE = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel", "apple": "Apple", "cpu": "CPU"}
AMP_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16"}
# AMD architectures with native bf16 matrix instructions (CDNA2+, RDNA3+); older ones emulate it
# slowly, so they get fp16 instead.
_AMD_BF16_ARCH = re.compile(r"^gfx(90a|94\d|95\d|11\d\d|12\d\d)")
MB = 1024 * 1024


class DeviceUnavailableError(RuntimeError):
    """A forced ``--mode`` whose device PyTorch cannot see; the message is one line and says what to do."""


# ---------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class GpuFacts:
    """One accelerator as PyTorch reports it."""

    kind: str  # torch device type: "cuda" (NVIDIA and AMD), "xpu" or "mps"
    vendor: str  # "nvidia" | "amd" | "intel" | "apple"
    name: str
    index: int = 0
    memory_total_mb: float | None = None
    capability: tuple[int, int] | None = None  # NVIDIA compute capability
    arch: str | None = None  # AMD gfx architecture, e.g. "gfx90a"
    bf16: bool = False  # native bf16 arithmetic (not emulated)
    uuid: str | None = None  # lets NVML find the same board when CUDA_VISIBLE_DEVICES reorders


@dataclass(frozen=True)
class DeviceFacts:
    """Everything the device decisions depend on; tests build these by hand."""

    gpus: tuple[GpuFacts, ...] = ()
    torch_version: str = ""
    cuda_runtime: str | None = None  # torch.version.cuda: the build's CUDA, None on CPU/ROCm builds
    hip_runtime: str | None = None  # torch.version.hip: set only on ROCm builds
    driver_version: str | None = None
    cpu_name: str = "cpu"
    cpu_count: int = 1  # logical cores
    cpu_threads: int = 1  # torch's intra-op threads when the facts were read
    cpu_bf16: bool = False  # the CPU has native bf16 matrix support (AVX512-BF16 / AMX)
    triton: bool = False  # torch.compile can generate GPU kernels

    def gpus_of(self, vendor: str) -> tuple[GpuFacts, ...]:
        return tuple(g for g in self.gpus if g.vendor == vendor)


@dataclass(frozen=True)
class Target:
    """The chosen device: a GPU (``gpu`` set) or the CPU."""

    vendor: str
    gpu: GpuFacts | None = None

    @property
    def kind(self) -> str:
        return self.gpu.kind if self.gpu else "cpu"

    @property
    def device(self) -> str:
        if self.gpu is None:
            return "cpu"
        return "mps" if self.gpu.kind == "mps" else f"{self.gpu.kind}:{self.gpu.index}"


@dataclass(frozen=True)
class PrecisionPolicy:
    amp: str | None  # "bf16" | "fp16" | None (fp32)
    tf32: bool
    cudnn_benchmark: bool

    @property
    def amp_dtype(self) -> str | None:
        return AMP_DTYPE_NAMES.get(self.amp) if self.amp else None

    @property
    def precision(self) -> str:
        return self.amp or "fp32"


# ------------------------------------------------------------------------------ pure decisions


def normalize_mode(mode: str) -> str:
    key = str(mode).strip().lower()
    if key not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return _MODE_ALIASES.get(key, key)


def _build(facts: DeviceFacts) -> str:
    if facts.hip_runtime:
        return f"torch {facts.torch_version}, a ROCm {facts.hip_runtime} build"
    if facts.cuda_runtime:
        return f"torch {facts.torch_version}, a CUDA {facts.cuda_runtime} build"
    return f"torch {facts.torch_version}, a build without CUDA or ROCm"


def _absent_message(mode: str, facts: DeviceFacts) -> str:
    """Why the forced device is missing and what to do, in one line."""
    prefix = f"--mode {mode} was requested but"
    if mode == "nvidia":
        amd = facts.gpus_of("amd")
        if amd:
            return f"{prefix} the visible GPU is AMD ({amd[0].name}, {_build(facts)}); use --mode amd or --mode gpu"
        if facts.cuda_runtime:
            return (f"{prefix} no NVIDIA GPU is visible to PyTorch (torch.cuda.is_available() is False; "
                    f"{_build(facts)}); check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES, "
                    "or use --mode cpu")
        return (f"{prefix} no NVIDIA GPU is visible to PyTorch (torch.cuda.is_available() is False; "
                f"{_build(facts)}); install a CUDA build of PyTorch or use --mode cpu")
    if mode == "amd":
        nvidia = facts.gpus_of("nvidia")
        if nvidia:
            return (f"{prefix} the visible GPU is NVIDIA ({nvidia[0].name}, {_build(facts)}); "
                    "use --mode nvidia or --mode gpu")
        if facts.hip_runtime:
            return (f"{prefix} no AMD GPU is visible to PyTorch (torch.cuda.is_available() is False; "
                    f"{_build(facts)}); check the ROCm driver (rocm-smi) and HIP_VISIBLE_DEVICES, "
                    "or use --mode cpu")
        return (f"{prefix} no AMD GPU is visible to PyTorch ({_build(facts)}, torch.version.hip is None); "
                "install a ROCm build of PyTorch (Linux) or use --mode cpu")
    if mode == "intel":
        return (f"{prefix} no Intel GPU is visible to PyTorch (torch.xpu.is_available() is False; "
                f"{_build(facts)}); install PyTorch with XPU support and the Intel GPU driver, "
                "or use --mode cpu")
    if mode == "mps":
        return (f"{prefix} no Apple GPU is available (torch.backends.mps.is_available() is False); "
                "MPS needs Apple Silicon, macOS 12.3+ and an arm64 Python, or use --mode cpu")
    return (f"{prefix} PyTorch sees no GPU (no CUDA, ROCm, XPU or MPS device; {_build(facts)}); "
            "install a GPU build of PyTorch or use --mode cpu")


def choose_device(mode: str, facts: DeviceFacts) -> Target:
    """The device for ``mode``: ``auto`` falls back to the CPU, a forced mode raises when absent."""
    mode = normalize_mode(mode)
    if mode == "cpu":
        return Target("cpu")
    if mode in _VENDOR_OF_MODE:
        found = facts.gpus_of(_VENDOR_OF_MODE[mode])
        if not found:
            raise DeviceUnavailableError(_absent_message(mode, facts))
        return Target(found[0].vendor, found[0])
    for vendor in _AUTO_ORDER:
        found = facts.gpus_of(vendor)
        if found:
            return Target(vendor, found[0])
    if mode == "gpu":
        raise DeviceUnavailableError(_absent_message(mode, facts))
    return Target("cpu")


def tf32_supported(target: Target) -> bool:
    """TF32 tensor cores exist from NVIDIA Ampere (8.0) on; elsewhere the switch means nothing."""
    gpu = target.gpu
    return bool(gpu and gpu.vendor == "nvidia" and gpu.capability and gpu.capability >= (8, 0))


def amp_kind(target: Target) -> str | None:
    """The autocast dtype this device runs well: bf16 where it is native (same range as fp32, no
    overflow risk), fp16 where only that is fast, None on the CPU."""
    gpu = target.gpu
    if gpu is None:
        return None
    if gpu.vendor == "nvidia":
        return "bf16" if gpu.capability and gpu.capability >= (8, 0) else "fp16"
    if gpu.vendor in ("amd", "intel"):
        return "bf16" if gpu.bf16 else "fp16"
    return "fp16"  # Apple MPS: fp16 autocast is the long-supported path


def precision_policy(target: Target, amp: bool = True, *, tf32: bool = True, cudnn_benchmark: bool = True,
                     cpu_amp: bool = False) -> PrecisionPolicy:
    """The switches to use on ``target`` given the user's flags (``--no-amp`` etc.).

    The CPU stays fp32 unless ``cpu_amp`` asks for bf16 explicitly: CPU autocast is only a win on
    CPUs with native bf16, and its error budget is the caller's decision.
    """
    if target.gpu is None:
        kind = "bf16" if (amp and cpu_amp) else None
    else:
        kind = amp_kind(target) if amp else None
    return PrecisionPolicy(
        amp=kind,
        tf32=tf32 and tf32_supported(target),
        cudnn_benchmark=cudnn_benchmark and target.kind == "cuda",  # ROCm's MIOpen honours it too
    )


def thread_count(facts: DeviceFacts, requested: int | None) -> int | None:
    """Intra-op CPU threads to set; None keeps torch's choice (one per physical core)."""
    if requested is None:
        return None
    if requested < 1:
        raise ValueError(f"cpu_threads must be at least 1, got {requested}")
    return min(requested, max(1, facts.cpu_count))


def backend_switches(target: Target, policy: PrecisionPolicy, threads: int | None) -> dict[str, Any]:
    """The global torch settings ``apply`` makes, as data.

    TF32 goes through ``set_float32_matmul_precision`` and ``cudnn.allow_tf32``: torch >= 2.9 refuses
    to mix these with its newer ``fp32_precision`` switches, and these are the ones every version
    (and most third-party code) reads. cuDNN convolutions default to TF32, so fp32 must switch it off.
    """
    switches: dict[str, Any] = {}
    if target.kind == "cuda":
        switches["cudnn.benchmark"] = policy.cudnn_benchmark
        switches["cudnn.allow_tf32"] = policy.tf32
        switches["float32_matmul_precision"] = "high" if policy.tf32 else "highest"
    if threads is not None:
        switches["num_threads"] = threads
    return switches


def amd_bf16_native(arch: str | None) -> bool:
    return bool(arch and _AMD_BF16_ARCH.match(arch))


# ------------------------------------------------------------------------------------ detection


def _mb(n_bytes: Any) -> float | None:
    try:
        return round(float(n_bytes) / MB, 1)
    except (TypeError, ValueError):
        return None


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


# -------------------------------------------------------------------------------- GPU readings


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

    def autocast(self, enabled: bool | None = None) -> contextlib.AbstractContextManager:
        """Autocast at this device's AMP dtype, or a no-op when the policy is fp32.

        ``enabled=True`` on a manager whose policy is fp32 still autocasts (bf16 on the CPU, the
        device's natural dtype on a GPU): the explicit request wins over the default.
        """
        import torch

        kind = self.policy.amp
        if enabled is False:
            return contextlib.nullcontext()
        if enabled and kind is None:
            kind = amp_kind(self.target) or "bf16"
        if kind is None:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if kind == "bf16" else torch.float16
        return torch.autocast(device_type=self.target.kind, dtype=dtype)

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

    def upload(self, array: Any) -> Any:
        """Host data to the device: pinned memory and a non-blocking copy on CUDA, a plain copy elsewhere."""
        import torch

        tensor = torch.as_tensor(array)
        if self.target.kind == "cpu":
            return tensor
        if self.target.kind == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

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

