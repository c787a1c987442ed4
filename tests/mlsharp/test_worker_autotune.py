"""The worker's start-up auto-tune: candidates from the GPU manager, outputs checked against fp32."""

from __future__ import annotations

import json

import numpy as np

from mlsharp import worker
from sharpnet.gaussians import Gaussians


class FakeTuned:
    def __init__(self, log, amp, tf32, cudnn_benchmark):
        self.log, self.precision = log, "bf16" if amp else "fp32"
        self.switches = (amp, tf32, cudnn_benchmark)

    def apply(self):
        self.log.append(self.switches)


class FakeGPU:
    def __init__(self):
        self.applied = []

    def tuning_capabilities(self):
        return {"amp": True, "tf32": True, "cudnn_benchmark": True, "compile": True}

    def tuning_key(self):
        return {"device": "fake-gpu", "driver": "1", "torch": "x"}

    def with_options(self, amp, tf32, cudnn_benchmark):
        return FakeTuned(self.applied, amp, tf32, cudnn_benchmark)

    def synchronize(self):
        pass


class FakeBackend:
    """Its colours go wrong under AMP, so auto-tune must never pick an AMP candidate."""

    name = "sharp"
    model_id = "fake"

    def __init__(self, gpu):
        self.gpu = gpu

    def predict(self, rgb, f_px, input_size):
        amp = bool(self.gpu.applied and self.gpu.applied[-1][0])
        n = 16
        return Gaussians(
            mean_vectors=np.tile([0.0, 0.0, 5.0], (n, 1)).astype(np.float32),
            singular_values=np.full((n, 3), 0.1, np.float32),
            quaternions=np.tile([1.0, 0, 0, 0], (n, 1)).astype(np.float32),
            colors=np.full((n, 3), 0.9 if amp else 0.5, np.float32),
            opacities=np.full(n, 0.5, np.float32),
        )


def test_auto_tune_keeps_only_candidates_within_tolerance_and_remembers(tmp_path, monkeypatch):
    gpu = FakeGPU()
    monkeypatch.setattr(worker, "_gpu", gpu)
    monkeypatch.setattr(worker, "_backend", FakeBackend(gpu))
    # No spec from an earlier test in this process: the worker then tunes for a GPU device, whose
    # fast paths (channels_last) differ from a CPU's (int8).
    monkeypatch.setattr(worker, "_spec", None)
    cache = tmp_path / "autotune.json"
    result = worker.auto_tune(32, 512, warmup_runs=1, test_runs=2, cache_path=str(cache))
    names = {m["name"] for m in result["candidates"]}
    assert {"baseline", "amp", "tf32", "cudnn", "channels_last"} <= names and "compile" not in names
    assert result["reason"].startswith(f"'{result['choice']}' is the fastest") and "amp: outside tolerance" in result["reason"]
    assert "amp" not in result["choice"] and result["choice"] != "all"
    rejected = {m["name"] for m in result["candidates"] if not m["within_tolerance"]}
    assert "amp" in rejected
    assert gpu.applied[-1][0] is False  # the chosen (non-AMP) switches were applied last
    assert cache.is_file() and json.loads(cache.read_text())
    again = worker.auto_tune(32, 512, warmup_runs=1, test_runs=2, cache_path=str(cache))
    assert again["from_cache"] is True and again["choice"] == result["choice"]


def test_cpu_tuning_tries_both_layouts_with_and_without_int8():
    from sharpnet.options import InferenceOptions

    paths = worker.tuning_fast_paths("cpu")
    assert paths[:3] == ["channels_last", "int8", "int8+channels_last"]  # float before int8: no reload
    parsed = [InferenceOptions.from_label(p) for p in paths]
    assert any(o.channels_last and o.quantization == "dynamic" for o in parsed)
    assert "int8" not in worker.tuning_fast_paths("cuda")  # torch int8 has no GPU kernels


def test_apply_tuning_switches_a_worker_in_place(monkeypatch):
    gpu = FakeGPU()
    monkeypatch.setattr(worker, "_gpu", gpu)
    monkeypatch.setattr(worker, "_backend", FakeBackend(gpu))
    options = worker.apply_tuning({"amp": True, "tf32": False, "cudnn_benchmark": True, "compile": False})
    assert options["precision"] == "bf16" and gpu.applied[-1] == (True, False, True)


class FakePool:
    def __init__(self, spec):
        self.spec, self.calls = spec, []

    async def broadcast(self, fn, *args, timeout=None):
        self.calls.append((fn, args))
        return [None]


def test_every_worker_and_the_cache_identity_follow_the_tuned_choice(tmp_path):
    import asyncio
    from dataclasses import replace

    from mlsharp.backends.base import BackendSpec
    from mlsharp.model_manager import ModelManager
    from sharpnet.options import InferenceOptions
    from tests.mlsharp.svc_helpers import service_config

    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"weights")
    manager = ModelManager(service_config(tmp_path))
    manager.spec = BackendSpec(name="sharp", identity="sharp-old", device="cuda", checkpoint=str(checkpoint),
                               options=InferenceOptions(precision="bf16"), amp=True, tf32=True,
                               cudnn_benchmark=True)
    manager.pool = FakePool(manager.spec)
    switches = {"amp": False, "tf32": True, "cudnn_benchmark": True, "compile": False}
    asyncio.run(manager._adopt_tuning({"switches": switches, "precision": "fp32"}))

    assert manager.pool.calls == [(worker.apply_tuning, (switches,))]
    assert manager.pool.spec is manager.spec  # workers started later get the choice too
    assert manager.spec.amp is False and manager.spec.precision == "fp32"
    assert manager.spec.identity not in ("sharp-old",) and manager.status.identity == manager.spec.identity

    # Nothing to change: no broadcast, same identity.
    before = replace(manager.spec)
    manager.pool.calls.clear()
    asyncio.run(manager._adopt_tuning({"switches": switches, "precision": "fp32"}))
    assert manager.pool.calls == [] and manager.spec == before
