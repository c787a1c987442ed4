"""Device choice, precision gating and readings, on hand-built DeviceFacts (no GPU needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import gpu_utils
from gpu_utils import (
    DeviceFacts,
    DeviceUnavailableError,
    GPUManager,
    GpuFacts,
    amd_bf16_native,
    amdsmi_reading,
    backend_switches,
    choose_device,
    nvml_reading,
    precision_policy,
    thread_count,
    torch_reading,
)

PASCAL = GpuFacts("cuda", "nvidia", "NVIDIA GeForce GTX 1080", 0, 8192.0, capability=(6, 1))
TURING = GpuFacts("cuda", "nvidia", "NVIDIA GeForce RTX 2080 Ti", 0, 11264.0, capability=(7, 5))
AMPERE = GpuFacts("cuda", "nvidia", "NVIDIA A100-SXM4-40GB", 0, 40960.0, capability=(8, 0), bf16=True)
HOPPER = GpuFacts("cuda", "nvidia", "NVIDIA H100 80GB HBM3", 0, 81559.0, capability=(9, 0), bf16=True)
MI250 = GpuFacts("cuda", "amd", "AMD Instinct MI250X", 0, 65520.0, arch="gfx90a", bf16=True)
RX6800 = GpuFacts("cuda", "amd", "AMD Radeon RX 6800", 0, 16368.0, arch="gfx1030", bf16=False)
ARC = GpuFacts("xpu", "intel", "Intel(R) Arc(TM) A770 Graphics", 0, 16225.0, bf16=True)
M2 = GpuFacts("mps", "apple", "Apple arm64 GPU (MPS)", 0, 21845.0)


def facts(*gpus: GpuFacts, cuda: str | None = None, hip: str | None = None, **more) -> DeviceFacts:
    if cuda is None and hip is None and any(g.vendor == "nvidia" for g in gpus):
        cuda = "12.4"
    if hip is None and any(g.vendor == "amd" for g in gpus):
        hip = "6.2.41133"
    base = dict(gpus=tuple(gpus), torch_version="2.13.0", cuda_runtime=cuda, hip_runtime=hip,
                cpu_name="Test CPU", cpu_count=8, cpu_threads=4)
    base.update(more)
    return DeviceFacts(**base)


CPU_ONLY = facts()


def manager(mode: str, device_facts: DeviceFacts, **kwargs) -> GPUManager:
    return GPUManager(mode, facts=device_facts, apply=False, **kwargs)


# ------------------------------------------------------------------------------ device choice


@pytest.mark.parametrize("gpu, vendor, device", [
    (PASCAL, "nvidia", "cuda:0"), (TURING, "nvidia", "cuda:0"), (AMPERE, "nvidia", "cuda:0"),
    (HOPPER, "nvidia", "cuda:0"), (MI250, "amd", "cuda:0"), (ARC, "intel", "xpu:0"), (M2, "apple", "mps"),
])
def test_auto_and_gpu_modes_pick_the_visible_accelerator(gpu, vendor, device):
    for mode in ("auto", "gpu"):
        target = choose_device(mode, facts(gpu))
        assert (target.vendor, target.device, target.gpu) == (vendor, device, gpu)


def test_auto_falls_back_to_the_cpu_and_cpu_mode_ignores_gpus():
    assert choose_device("auto", CPU_ONLY).device == "cpu"
    assert choose_device("cpu", facts(HOPPER)).device == "cpu"
    assert choose_device("cpu", facts(HOPPER)).vendor == "cpu"


def test_auto_prefers_a_cuda_gpu_over_an_integrated_intel_one_and_takes_the_first_index():
    second = GpuFacts("cuda", "nvidia", "NVIDIA L4", 1, 23034.0, capability=(8, 9), bf16=True)
    target = choose_device("auto", facts(ARC, HOPPER, second))
    assert target.gpu == HOPPER


@pytest.mark.parametrize("mode, gpu", [("nvidia", TURING), ("amd", RX6800), ("intel", ARC), ("mps", M2),
                                       ("apple", M2), ("NVIDIA", HOPPER), (" Gpu ", MI250)])
def test_forced_mode_present(mode, gpu):
    assert choose_device(mode, facts(gpu)).gpu == gpu


@pytest.mark.parametrize("mode, device_facts, must_say", [
    ("nvidia", CPU_ONLY, ["--mode nvidia was requested", "no NVIDIA GPU is visible",
                          "torch.cuda.is_available() is False", "install a CUDA build of PyTorch", "--mode cpu"]),
    ("nvidia", facts(cuda="12.4"), ["no NVIDIA GPU is visible", "CUDA 12.4 build", "nvidia-smi",
                                    "CUDA_VISIBLE_DEVICES"]),
    ("nvidia", facts(MI250), ["the visible GPU is AMD", "AMD Instinct MI250X", "ROCm", "--mode amd"]),
    ("amd", CPU_ONLY, ["--mode amd was requested", "no AMD GPU", "torch.version.hip is None",
                       "install a ROCm build of PyTorch", "--mode cpu"]),
    ("amd", facts(hip="6.2"), ["no AMD GPU is visible", "rocm-smi", "HIP_VISIBLE_DEVICES"]),
    ("amd", facts(AMPERE), ["the visible GPU is NVIDIA", "A100", "--mode nvidia"]),
    ("intel", facts(HOPPER), ["--mode intel was requested", "torch.xpu.is_available() is False", "XPU"]),
    ("mps", CPU_ONLY, ["--mode mps was requested", "torch.backends.mps.is_available() is False", "Apple Silicon"]),
    ("apple", CPU_ONLY, ["--mode mps was requested", "Apple"]),
    ("gpu", CPU_ONLY, ["--mode gpu was requested", "PyTorch sees no GPU", "install a GPU build", "--mode cpu"]),
])
def test_forced_mode_absent_raises_one_clear_line(mode, device_facts, must_say):
    with pytest.raises(DeviceUnavailableError) as caught:
        choose_device(mode, device_facts)
    message = str(caught.value)
    assert "\n" not in message
    for phrase in must_say:
        assert phrase in message


def test_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of: auto, gpu, cpu, nvidia, amd"):
        choose_device("tpu", CPU_ONLY)


def test_forced_nvidia_on_this_machine_fails_at_construction():
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(DeviceUnavailableError, match="--mode nvidia was requested"):
        GPUManager("nvidia")


# ------------------------------------------------------------------------------ precision


@pytest.mark.parametrize("gpu, amp, tf32", [
    (PASCAL, "fp16", False), (TURING, "fp16", False), (AMPERE, "bf16", True), (HOPPER, "bf16", True),
    (MI250, "bf16", False), (RX6800, "fp16", False), (ARC, "bf16", False), (M2, "fp16", False),
])
def test_precision_gated_by_capability(gpu, amp, tf32):
    policy = precision_policy(choose_device("auto", facts(gpu)))
    assert (policy.amp, policy.tf32) == (amp, tf32)
    assert policy.amp_dtype == {"bf16": "bfloat16", "fp16": "float16"}[amp]


def test_nvidia_without_a_reported_capability_gets_the_safe_choices():
    unknown = GpuFacts("cuda", "nvidia", "NVIDIA ???", 0)
    policy = precision_policy(choose_device("auto", facts(unknown)))
    assert (policy.amp, policy.tf32) == ("fp16", False)


def test_user_flags_turn_switches_off():
    target = choose_device("auto", facts(HOPPER))
    assert precision_policy(target, amp=False).amp is None
    assert precision_policy(target, amp=False).precision == "fp32"
    assert precision_policy(target, tf32=False).tf32 is False
    assert precision_policy(target, cudnn_benchmark=False).cudnn_benchmark is False


def test_cudnn_benchmark_only_on_cuda_devices_rocm_included():
    assert precision_policy(choose_device("auto", facts(MI250))).cudnn_benchmark is True
    assert precision_policy(choose_device("auto", facts(ARC))).cudnn_benchmark is False
    assert precision_policy(choose_device("auto", facts(M2))).cudnn_benchmark is False
    assert precision_policy(choose_device("auto", CPU_ONLY)).cudnn_benchmark is False


def test_cpu_stays_fp32_unless_bf16_is_asked_for_explicitly():
    cpu = choose_device("cpu", CPU_ONLY)
    assert precision_policy(cpu, amp=True) == gpu_utils.PrecisionPolicy(None, False, False)
    assert precision_policy(cpu, amp=True, cpu_amp=True).amp == "bf16"
    assert precision_policy(cpu, amp=False, cpu_amp=True).amp is None


@pytest.mark.parametrize("arch, native", [("gfx90a", True), ("gfx942", True), ("gfx950", True), ("gfx1100", True),
                                          ("gfx1201", True), ("gfx906", False), ("gfx908", False),
                                          ("gfx1030", False), (None, False)])
def test_amd_bf16_follows_the_architecture(arch, native):
    assert amd_bf16_native(arch) is native


def test_backend_switches_set_tf32_both_ways_on_cuda_and_nothing_on_the_cpu():
    ampere = choose_device("auto", facts(AMPERE))
    on = backend_switches(ampere, precision_policy(ampere), None)
    assert on == {"cudnn.benchmark": True, "cudnn.allow_tf32": True, "float32_matmul_precision": "high"}
    off = backend_switches(ampere, precision_policy(ampere, tf32=False, cudnn_benchmark=False), None)
    # cuDNN defaults to TF32 convolutions, so fp32 has to say no explicitly
    assert off == {"cudnn.benchmark": False, "cudnn.allow_tf32": False, "float32_matmul_precision": "highest"}
    turing = choose_device("auto", facts(TURING))
    assert backend_switches(turing, precision_policy(turing), None)["cudnn.allow_tf32"] is False
    cpu = choose_device("cpu", CPU_ONLY)
    assert backend_switches(cpu, precision_policy(cpu), None) == {}
    assert backend_switches(cpu, precision_policy(cpu), 3) == {"num_threads": 3}


def test_thread_count_is_clamped_to_the_cores_and_must_be_positive():
    assert thread_count(CPU_ONLY, None) is None
    assert thread_count(CPU_ONLY, 3) == 3
    assert thread_count(CPU_ONLY, 64) == CPU_ONLY.cpu_count
    with pytest.raises(ValueError, match="at least 1"):
        thread_count(CPU_ONLY, 0)


# ------------------------------------------------------------------------------ the manager


def test_info_of_a_mocked_hopper():
    gpu = manager("auto", facts(HOPPER, driver_version="550.54.15"))
    info = gpu.info()
    assert {k: info[k] for k in ("vendor", "name", "device", "memory_total_mb", "compute_capability",
                                 "amp_dtype", "tf32", "cudnn_benchmark", "cpu_threads")} == {
        "vendor": "nvidia", "name": HOPPER.name, "device": "cuda:0", "memory_total_mb": HOPPER.memory_total_mb,
        "compute_capability": "9.0", "amp_dtype": "bfloat16", "tf32": True, "cudnn_benchmark": True,
        "cpu_threads": 4,
    }
    assert info["runtime"] == "CUDA 12.4" and gpu.precision == "bf16"
    assert gpu.device == torch.device("cuda", 0) and gpu.vendor == "nvidia"
    assert "capability 9.0" in gpu.describe() and "bf16" in gpu.describe()


def test_info_of_mocked_amd_and_apple_devices():
    amd = manager("amd", facts(RX6800)).info()
    assert (amd["vendor"], amd["compute_capability"], amd["arch"], amd["amp_dtype"]) == (
        "amd", None, "gfx1030", "float16")
    assert amd["runtime"].startswith("ROCm ")
    apple = manager("apple", facts(M2))
    assert apple.device == torch.device("mps") and apple.info()["amp_dtype"] == "float16"


def test_tuning_key_names_device_driver_runtime_and_torch():
    key = manager("auto", facts(AMPERE, driver_version="550.54.15")).tuning_key()
    assert key == {"device": AMPERE.name, "vendor": "nvidia", "driver": "550.54.15", "runtime": "CUDA 12.4",
                   "torch": "2.13.0"}
    cpu_key = manager("cpu", CPU_ONLY, cpu_threads=2).tuning_key()
    assert cpu_key["threads"] == "2" and cpu_key["device"] == "Test CPU"


def test_tuning_capabilities_follow_the_device_and_the_user_flags():
    assert manager("auto", facts(HOPPER, triton=True)).tuning_capabilities() == {
        "amp": True, "tf32": True, "cudnn_benchmark": True, "compile": True}
    assert manager("auto", facts(TURING)).tuning_capabilities() == {
        "amp": True, "tf32": False, "cudnn_benchmark": True, "compile": False}
    assert manager("auto", facts(HOPPER), amp=False, cudnn_benchmark=False).tuning_capabilities() == {
        "amp": False, "tf32": True, "cudnn_benchmark": False, "compile": False}
    assert manager("cpu", CPU_ONLY).tuning_capabilities()["amp"] is False
    assert manager("cpu", facts(cpu_bf16=True)).tuning_capabilities()["amp"] is True


def test_with_options_changes_only_the_switches():
    gpu = manager("auto", facts(AMPERE))
    baseline = gpu.with_options(amp=False, tf32=False, cudnn_benchmark=False)
    assert baseline.precision == "fp32" and not baseline.policy.tf32 and not baseline.policy.cudnn_benchmark
    assert baseline.target == gpu.target and gpu.precision == "bf16"


def test_real_cpu_manager_applies_idempotently_and_reads_no_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    threads = torch.get_num_threads()
    gpu = GPUManager("auto")
    assert gpu.device == torch.device("cpu") and gpu.vendor == "cpu"
    assert gpu.memory_readings() == []
    assert gpu.info()["amp_dtype"] is None
    assert gpu.apply() == gpu.apply() == {}
    assert torch.get_num_threads() == threads


def test_cpu_threads_are_applied():
    before = torch.get_num_threads()
    try:
        gpu = GPUManager("cpu", cpu_threads=1)
        assert torch.get_num_threads() == 1 and gpu.info()["cpu_threads"] == 1
        gpu.apply()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_importing_has_no_side_effects():
    code = "import sys, gpu_utils; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(gpu_utils.__file__).parent)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------ readings


def _fake_nvml(util_fails: bool = False):
    def utilization(_handle):
        if util_fails:
            raise RuntimeError("not supported")
        return SimpleNamespace(gpu=37)

    return SimpleNamespace(
        nvmlDeviceGetMemoryInfo=lambda _h: SimpleNamespace(used=3 * 1024**3, total=80 * 1024**3, free=0),
        nvmlDeviceGetUtilizationRates=utilization,
    )


def test_nvml_reading_converts_bytes_to_mb():
    reading = nvml_reading(_fake_nvml(), object(), 0, HOPPER.name)
    assert reading == {"device_id": 0, "name": HOPPER.name, "used_mb": 3072.0, "total_mb": 81920.0,
                       "utilization_percent": 37.0}
    assert nvml_reading(_fake_nvml(util_fails=True), object(), 0, "x")["utilization_percent"] is None


def test_amdsmi_reading_keeps_mb_and_tolerates_missing_activity():
    smi = SimpleNamespace(amdsmi_get_gpu_vram_usage=lambda _h: {"vram_used": 1500, "vram_total": 65520},
                          amdsmi_get_gpu_activity=lambda _h: {"gfx_activity": 12})
    reading = amdsmi_reading(smi, object(), 1, MI250.name)
    assert reading == {"device_id": 1, "name": MI250.name, "used_mb": 1500.0, "total_mb": 65520.0,
                       "utilization_percent": 12.0}
    smi.amdsmi_get_gpu_activity = lambda _h: {"gfx_activity": "N/A"}
    assert amdsmi_reading(smi, object(), 1, "x")["utilization_percent"] is None


def test_torch_reading_uses_device_wide_free_memory_and_falls_back_to_the_allocator():
    fake = SimpleNamespace(cuda=SimpleNamespace(mem_get_info=lambda _i: (60 * 1024**3, 80 * 1024**3)))
    reading = torch_reading(fake, HOPPER)
    assert (reading["used_mb"], reading["total_mb"], reading["utilization_percent"]) == (20480.0, 81920.0, None)

    def broken(_i):
        raise RuntimeError("no mem_get_info")

    fake = SimpleNamespace(xpu=SimpleNamespace(mem_get_info=broken, memory_reserved=lambda _i: 512 * 1024**2))
    reading = torch_reading(fake, ARC)
    assert (reading["used_mb"], reading["total_mb"]) == (512.0, ARC.memory_total_mb)


def test_memory_readings_prefer_the_vendor_library_then_torch_then_nothing(monkeypatch):
    nvml_value = {"device_id": 0, "name": HOPPER.name, "used_mb": 1.0, "total_mb": 2.0, "utilization_percent": 3.0}
    monkeypatch.setattr(gpu_utils.VendorLibrary, "_open", lambda self: (lambda: nvml_value))
    assert manager("auto", facts(HOPPER)).memory_readings() == [nvml_value]

    def no_library(self):
        raise ImportError("No module named 'pynvml'")

    opened = []
    monkeypatch.setattr(gpu_utils.VendorLibrary, "_open", lambda self: opened.append(1) or no_library(self))
    torch_value = {"device_id": 0, "name": HOPPER.name, "used_mb": 5.0, "total_mb": 6.0, "utilization_percent": None}
    monkeypatch.setattr(gpu_utils, "torch_reading", lambda _torch, gpu: dict(torch_value, name=gpu.name))
    gpu = manager("auto", facts(HOPPER))
    assert gpu.memory_readings() == gpu.memory_readings() == [torch_value]
    assert opened == [1]  # a missing library is not retried on every scrape

    def broken(_torch, _gpu):
        raise RuntimeError("driver gone")

    monkeypatch.setattr(gpu_utils, "torch_reading", broken)
    assert gpu.memory_readings() == []
