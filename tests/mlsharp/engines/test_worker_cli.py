"""``python app.py worker`` refuses clearly: one ``error:`` line and exit 2, before loading a model."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cluster_helpers import REPO
from ext_servers import free_port
from mlsharp.engines.worker_main import _device_mode


def run_worker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", "worker", "--log-level", "WARNING", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_no_redis_is_one_line_and_exit_2():
    result = run_worker("--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Redis at redis://127.0.0.1:")


def test_a_bad_device_is_refused():
    result = run_worker("--device", "cuda:x")
    assert result.returncode == 2 and "--device must be cpu, cuda, cuda:N or mps" in result.stderr


@pytest.mark.parametrize("device, mode", [("cpu", "cpu"), ("cuda", "nvidia"), ("mps", "mps")])
def test_devices_map_to_modes(device, mode):
    assert _device_mode(device) == mode


def test_cuda_n_makes_only_that_gpu_visible(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # restored after the test
    assert _device_mode("cuda:1") == "nvidia"
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
