"""The API server process never imports torch: the workers detect the device and run the network.

Checked in a fresh interpreter (this test process has torch loaded by other tests): the service is
built and started with workers holding the model -- the preview, and the tiny SHARP network where
the shared fixtures are present -- and ``sys.modules`` is inspected afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from fastapi.testclient import TestClient
from app import MLSharpApp
from mlsharp.config import build_config

config, _ = build_config(json.loads(sys.argv[1]))
owner = MLSharpApp(config)
with TestClient(owner.app, base_url="http://localhost") as client:
    health = client.get("/api/health").json()
    stats = client.get("/api/stats").json()
print(json.dumps({"torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
                  "health": health, "stats": stats}))
"""


def start_in_fresh_process(root: Path, model: dict) -> dict:
    config = {
        "browser": {"open": False},
        "logging": {"file": False},
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), **model},
        "inference": {"input_size": [512, 512]},
    }
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(config)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_server_with_the_preview_imports_no_torch(tmp_path):
    probe = start_in_fresh_process(tmp_path, {"backend": "preview"})
    assert probe["torch"] == []
    assert probe["health"]["model_loaded"] is True and probe["health"]["device"] == "cpu"


def test_the_server_with_sharp_workers_imports_no_torch(tmp_path, tiny_a_dir):
    probe = start_in_fresh_process(tmp_path, {"backend": "sharp", "checkpoint": str(tiny_a_dir / "state_dict.pt"),
                                              "model_config": str(tiny_a_dir / "config.json")})
    assert probe["torch"] == []
    health = probe["health"]
    assert health["backend"] == "sharp" and health["model_loaded"] is True
    assert health["device"] == "cpu"  # as the worker detected it on this machine
    assert health["model_id"].startswith("sharp-") and probe["stats"]["device"] == "cpu"
