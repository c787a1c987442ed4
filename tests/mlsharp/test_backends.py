"""Backend choice and the sharp backend (on the tiny golden configuration, when the shared data is there)."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from mlsharp.backends import sharp as sharp_backend
from mlsharp.backends.base import BackendSpec, BackendUnavailable, load_backend
from mlsharp.model_manager import ModelManager
from sharpnet.options import InferenceOptions
from sharpnet.utils.photo import load_photo
from svc_helpers import service_config


def test_without_a_checkpoint_the_preview_is_chosen_with_a_reason(tmp_path):
    manager = ModelManager(service_config(tmp_path))
    assert manager.spec.name == "preview"
    assert manager.status.preview
    assert "no checkpoint at" in manager.status.reason
    described = manager.describe()
    assert described["backend"] == "preview" and described["preview"] is True
    assert "--download-model" in described["message"]


def test_forcing_sharp_without_a_checkpoint_is_an_error(tmp_path):
    with pytest.raises(BackendUnavailable, match="no checkpoint"):
        ModelManager(service_config(tmp_path, model={"backend": "sharp"}))


def test_forcing_preview_ignores_a_present_checkpoint(tmp_path):
    checkpoint = tmp_path / "w.pt"
    checkpoint.write_bytes(b"weights")
    manager = ModelManager(service_config(tmp_path, model={"backend": "preview", "checkpoint": str(checkpoint)}))
    assert manager.spec.name == "preview"


def test_sharp_is_chosen_when_a_checkpoint_exists(tmp_path):
    checkpoint = tmp_path / "w.pt"
    checkpoint.write_bytes(b"weights")
    config = service_config(tmp_path, model={"checkpoint": str(checkpoint)},
                            optimization={"gradient_checkpointing": True, "checkpoint_segments": 3})
    spec = ModelManager(config).spec
    assert spec.name == "sharp" and spec.checkpoint == str(checkpoint)
    assert spec.checkpoint_segments == 3
    assert spec.identity.startswith("sharp-")


def test_identity_changes_with_the_model(tmp_path):
    checkpoint = tmp_path / "w.pt"
    checkpoint.write_bytes(b"weights")
    cfg_a, cfg_b = tmp_path / "a.json", tmp_path / "b.json"
    cfg_a.write_text('{"vit_depth": 4}')
    cfg_b.write_text('{"vit_depth": 6}')
    first = sharp_backend.identity(checkpoint, cfg_a)
    assert first == sharp_backend.identity(checkpoint, cfg_a)
    assert first != sharp_backend.identity(checkpoint, cfg_b)
    assert first != sharp_backend.identity(checkpoint, None)


def test_sharp_reports_itself_unavailable_when_the_network_is_missing(tmp_path, monkeypatch):
    checkpoint = tmp_path / "w.pt"
    checkpoint.write_bytes(b"weights")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sharpnet.predictor" else real(name, *a))
    reason = sharp_backend.unavailable_reason(checkpoint, None)
    assert reason is not None and "not installed" in reason
    manager = ModelManager(service_config(tmp_path, model={"checkpoint": str(checkpoint)}))
    assert manager.spec.name == "preview" and "not installed" in manager.status.reason


def test_a_bad_checkpoint_is_unavailable_not_faked(tmp_path):
    checkpoint = tmp_path / "broken.pt"
    checkpoint.write_bytes(b"this is not a torch file")
    spec = BackendSpec(name="sharp", identity="x", checkpoint=str(checkpoint))
    with pytest.raises(BackendUnavailable, match="not a readable PyTorch checkpoint"):
        load_backend(spec)


def test_sharp_backend_runs_the_tiny_golden_model(tiny_a_dir, tmp_path):
    checkpoint = tmp_path / "tiny.pt"
    shutil.copyfile(tiny_a_dir / "state_dict.pt", checkpoint)
    spec = BackendSpec(name="sharp", identity="tiny", checkpoint=str(checkpoint),
                       model_config=str(tiny_a_dir / "config.json"))
    backend = load_backend(spec)
    assert backend.name == "sharp"
    photo = load_photo(tiny_a_dir / "input.png")
    gaussians = backend.predict(photo.rgb, photo.f_px, 512)
    assert len(gaussians) == 2 * 256 * 256  # two layers on the half-resolution grid
    assert np.all(np.isfinite(gaussians.mean_vectors))
    assert np.all(gaussians.mean_vectors[:, 2] > 0)


def test_options_follow_the_config_and_the_managers_precision(tmp_path):
    checkpoint = tmp_path / "w.pt"
    checkpoint.write_bytes(b"weights")
    config = service_config(tmp_path, model={"checkpoint": str(checkpoint)},
                            optimization={"enable_quantization": True, "channels_last": True})
    spec = ModelManager(config).spec
    assert spec.options == InferenceOptions(quantization="dynamic", channels_last=True)
    ort = service_config(tmp_path, model={"checkpoint": str(checkpoint), "runtime": "onnxruntime"},
                         optimization={"enable_quantization": True, "channels_last": True})
    ort_spec = ModelManager(ort).spec
    assert ort_spec.options == InferenceOptions(quantization="dynamic", runtime="onnxruntime")
    assert ort_spec.onnx_dir and ort_spec.identity != spec.identity


def test_precision_is_part_of_the_identity(tmp_path):
    checkpoint = tmp_path / "w.pt"
    checkpoint.write_bytes(b"weights")
    assert sharp_backend.identity(checkpoint, None, "fp32") != sharp_backend.identity(checkpoint, None, "bf16")
    config = service_config(tmp_path, model={"checkpoint": str(checkpoint)})
    planned = ModelManager(config).spec
    assert planned.device is None  # the server leaves the device to the workers
    on_gpu = sharp_backend.on_device(planned, "cuda:0", "bf16")
    on_cpu = sharp_backend.on_device(planned, "cpu", "fp32")
    assert (on_gpu.device, on_gpu.precision, on_gpu.options.precision, on_cpu.precision) == ("cuda:0", "bf16", "bf16", "fp32")
    assert on_gpu.identity != on_cpu.identity


def test_options_reach_every_worker(tiny_a_dir, tmp_path):
    """Two workers, int8 on: each one's predictor really runs with it (read back from the worker)."""
    import asyncio

    checkpoint = tmp_path / "tiny.pt"
    shutil.copyfile(tiny_a_dir / "state_dict.pt", checkpoint)
    config = service_config(
        tmp_path, model={"checkpoint": str(checkpoint), "model_config": str(tiny_a_dir / "config.json"),
                         "backend": "sharp"},
        optimization={"enable_quantization": True, "gradient_checkpointing": True, "checkpoint_segments": 2},
        performance={"max_workers": 2},
    )
    manager = ModelManager(config)

    async def scenario():
        await manager.start()
        try:
            return await manager.pool.warm_up()
        finally:
            await manager.stop()

    reports = asyncio.run(scenario())
    assert len({r["pid"] for r in reports}) == 2
    assert [r["options"] for r in reports] == ["fp32+int8+segments=2"] * 2


def test_an_unloadable_checkpoint_falls_back_to_the_preview_with_the_reason(tmp_path):
    from fastapi.testclient import TestClient

    from app import MLSharpApp

    checkpoint = tmp_path / "corrupt.pt"
    checkpoint.write_bytes(b"not torch at all")
    owner = MLSharpApp(service_config(tmp_path, model={"checkpoint": str(checkpoint)}))
    assert owner.models.spec.name == "sharp"  # chosen, since the file exists ...
    with TestClient(owner.app) as client:
        health = client.get("/api/health").json()
    assert health["backend"] == "preview" and health["preview"] is True  # ... but could not load
    assert "SHARP failed to load" in health["reason"] and "not a readable PyTorch checkpoint" in health["reason"]


def test_a_failed_start_leaves_nothing_behind(tmp_path):
    from fastapi.testclient import TestClient

    from app import MLSharpApp

    checkpoint = tmp_path / "corrupt.pt"
    checkpoint.write_bytes(b"not torch at all")
    owner = MLSharpApp(service_config(tmp_path, model={"backend": "sharp", "checkpoint": str(checkpoint)}))
    with pytest.raises(BackendUnavailable, match="SHARP could not be loaded"):
        with TestClient(owner.app):
            pass
    assert not owner.run_dir.exists()
    assert owner.models.pool is None


def test_auto_tune_times_warm_up_runs_at_start(tmp_path):
    from fastapi.testclient import TestClient

    from app import MLSharpApp

    config = service_config(tmp_path, auto_tune={"enabled": True, "test_size": 64, "warmup_runs": 1,
                                                 "test_runs": 2})
    with TestClient(MLSharpApp(config).app) as client:
        tuned = client.get("/api/stats").json()["auto_tune"]
    assert tuned["runs"] == 2 and tuned["test_size"] == 64 and tuned["input_size"] == 512
    assert 0 < tuned["min_s"] <= tuned["mean_s"]
