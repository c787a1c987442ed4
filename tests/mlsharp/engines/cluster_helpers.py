"""Launching a real cluster for the tests: API servers and ``python app.py worker`` processes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ext_servers import free_port, stop, wait_for

REPO = Path(__file__).resolve().parents[3]


def write_config(root: Path, redis_url: str, results: str, port: int, **storage) -> Path:
    config = {
        "browser": {"open": False},
        "logging": {"file": False, "level": "INFO"},
        "model": {"backend": "preview", "temp_dir": str(root / "tmp")},
        "cache": {"dir": str(root / "cache")},
        "inference": {"input_size": [512, 512]},
        "server": {"port": port},
        "performance": {"max_concurrency": 64},
        "jobs": {"engine": "dramatiq", "redis_url": redis_url, "heartbeat_timeout_s": 2.0, "max_attempts": 3},
        "storage": {"results": results, **storage},
    }
    path = root / "cluster.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _env(extra: dict | None) -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}


class Cluster:
    """Processes of one test cluster; :meth:`close` stops whatever is still running."""

    def __init__(self, root: Path, config: Path, port: int, env: dict | None = None) -> None:
        self.root, self.config, self.port, self.env = root, config, port, env
        self.api: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self._logs: list = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")
        self._logs.append(log)
        return subprocess.Popen([sys.executable, "app.py", *args], cwd=REPO, env=_env(self.env),
                                stdout=log, stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            return json.loads(response.read())

    def health(self) -> dict | None:
        try:
            return self.get("/api/health")
        except OSError:
            return None

    def start_api(self) -> None:
        self.api = self._spawn("api", ["--config", str(self.config)])
        wait_for(lambda: self.api.poll() is None and self.health() is not None, 180, "the API server")

    def start_worker(self) -> subprocess.Popen:
        worker = self._spawn(f"worker{len(self.workers)}", ["worker", "--config", str(self.config)])
        self.workers.append(worker)
        return worker

    def wait_workers(self, count: int) -> None:
        def alive() -> bool:
            health = self.health()
            return health is not None and len(health["jobs"]["workers"]) >= count
        wait_for(alive, 180, f"{count} live workers")

    def restart_api(self) -> None:
        assert self.api is not None
        self.api.send_signal(signal.SIGTERM)
        self.api.wait(timeout=30)
        self.start_api()

    def close(self) -> None:
        for process in [*self.workers, self.api]:
            if process is not None:
                stop(process)
        for log in self._logs:
            log.close()


def photo_jpeg(seed: int, width: int = 640, height: int = 480) -> bytes:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((width, height), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def submit(cluster: Cluster, data: bytes) -> str:
    boundary = "mlsharpboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(cluster.url("/api/jobs"), data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return json.loads(response.read())["job_id"]


__all__ = ["Cluster", "free_port", "photo_jpeg", "submit", "write_config"]
