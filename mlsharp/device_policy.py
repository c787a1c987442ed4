"""The device rules as pure functions of a :class:`DeviceFacts` snapshot (no torch, no hardware).

Which vendor wins in ``auto``, what a forced mode needs, when TF32 or bf16 is safe, which backend
switches follow: all decided here so they are tested on any machine by building facts by hand,
and so the API server (which never imports torch) can name modes and devices. ``gpu_utils``
detects the facts and applies the decisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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
