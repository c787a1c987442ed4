"""Helpers shared by the service tests (a module with a unique name, so imports are unambiguous)."""

from __future__ import annotations

import io
import zipfile
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import httpx
import yaml
from PIL import Image

from mlsharp.config import Config, build_config


def block_photo(width: int = 96, height: int = 64, block: int = 16) -> np.ndarray:
    """Uniform colour blocks (so a cell average equals its pixels) with a deterministic palette."""
    ys, xs = np.mgrid[0:height, 0:width]
    by, bx = ys // block, xs // block
    rgb = np.stack([(bx * 53 + 20) % 256, (by * 97 + 40) % 256, ((bx + by) * 31 + 60) % 256], axis=-1)
    return rgb.astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def job_snapshots(client, job_id: str, deadline_s: float = 300.0) -> list[dict]:
    """Every distinct (stage, has a draft) snapshot of a job until it ends, polled through the API
    (progressive jobs: the draft's arrival is one of the changes); no fixed sleep decides anything."""
    seen: list[dict] = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        snapshot = client.get(f"/api/jobs/{job_id}").json()
        if not seen or (snapshot["stage"], snapshot["draft"] is None) != (seen[-1]["stage"], seen[-1]["draft"] is None):
            seen.append(snapshot)
        if snapshot["state"] in ("done", "error", "cancelled"):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish; last {seen[-1] if seen else None}")


def zip_of(members: dict[str, bytes]) -> bytes:
    """A deflated zip archive holding ``members`` (name -> bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def service_config(root: Path, **sections: dict) -> Config:
    """A config whose every file location is under ``root`` (no logs, no browser)."""
    base = {
        "browser": {"open": False},
        "logging": {"file": False, "dir": str(root / "logs")},
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), "backend": "auto",
                  "checkpoint": str(root / "absent.pt")},
        "inference": {"input_size": [512, 512]},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    config, _ = build_config(base)
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REPO = Path(__file__).resolve().parents[2]


def launch_app(root: Path, config: dict, headers: dict | None = None, timeout: float = 120.0):
    """``python app.py`` with ``config`` (written to root/config.yaml) on a free port, output
    discarded; returns ``(process, port)`` once /api/health says the model is loaded."""
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump({"browser": {"open": False}, "logging": {"file": False}, **config}))
    port = free_port()
    process = subprocess.Popen([sys.executable, str(REPO / "app.py"), "-c", str(path), "--no-browser",
                                "--port", str(port)], cwd=root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early ({process.returncode})")
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/api/health", headers=headers, timeout=1)
            if health.status_code == 200 and health.json().get("model_loaded"):
                return process, port
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not come up")
