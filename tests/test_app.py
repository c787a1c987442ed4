"""``python app.py`` as a user runs it: --help, bad config, offline --download-model, predict dispatch,
and one real server (uvicorn + worker process) driven over HTTP, then stopped with SIGINT."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from PIL import Image
from plyfile import PlyData

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120


def run_app(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "app.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=TIMEOUT, env=None if env is None else {**os.environ, **env})


def isolated_config(root: Path, **extra) -> Path:
    data = {
        "browser": {"open": False},
        "logging": {"file": True, "dir": str(root / "logs")},
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), "checkpoint": str(root / "assets" / "sharp.pt")},
        "inference": {"input_size": [512, 512]},
    }
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_documents_every_option():
    result = run_app("--help")
    assert result.returncode == 0
    for option in ("--mode", "-m", "--port", "-p", "--host", "--input-size", "--no-browser", "--no-amp",
                   "--no-cudnn-benchmark", "--config", "-c", "--enable-cache", "--no-cache", "--cache-size",
                   "--clear-cache", "--enable-auto-tune", "--gradient-checkpointing",
                   "--checkpoint-segments", "--max-gaussians", "--download-model", "predict"):
        assert option in result.stdout, option
    for mode in ("auto", "gpu", "cpu", "nvidia", "amd"):
        assert mode in result.stdout


def test_bad_config_value_exits_2_with_one_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("cache:\n  size: -5\n")
    result = run_app("-c", str(config), "--no-browser")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: cache.size: must be >= 1, got -5")
    assert "Traceback" not in result.stderr


def test_unknown_config_key_exits_2(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text('{"server": {"prot": 80}}')
    result = run_app("-c", str(config))
    assert result.returncode == 2 and "server.prot: unknown key" in result.stderr


def test_bad_environment_value_exits_2_naming_the_variable(tmp_path):
    result = run_app("-c", str(isolated_config(tmp_path)), env={"MLSHARP_SERVER__PORT": "eighty"})
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: server.port: expected an integer, got 'eighty' "
                                    "(from environment variable MLSHARP_SERVER__PORT)")


def test_bad_flag_value_exits_2(tmp_path):
    result = run_app("--port", "99999", "-c", str(isolated_config(tmp_path)))
    assert result.returncode == 2
    assert "server.port: must be <= 65535" in result.stderr and "Traceback" not in result.stderr


def test_busy_port_is_a_one_line_error_before_anything_loads(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = run_app("-c", str(isolated_config(tmp_path)), "--port", str(port))
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert not (tmp_path / "tmp").exists()  # nothing was started


def test_download_model_offline_fails_fast_and_clean(tmp_path):
    config = isolated_config(tmp_path, model={"download_url": "http://127.0.0.1:9/sharp_2572gikvuh.pt"})
    started = time.monotonic()
    result = run_app("-c", str(config), "--download-model")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9/" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "assets").exists() or list((tmp_path / "assets").iterdir()) == []
    print(f"offline --download-model gave up after {elapsed:.1f} s")


def test_predict_subcommand_is_dispatched():
    result = run_app("predict", "--help")
    assert result.returncode == 0
    assert "app.py predict" in result.stdout and "--output" in result.stdout


def test_forced_gpu_mode_without_a_gpu_is_a_one_line_error(tmp_path):
    if Path("/dev/nvidia0").exists() or Path("/dev/kfd").exists():
        pytest.skip("this machine has a GPU")
    result = run_app("-c", str(isolated_config(tmp_path)), "--mode", "nvidia", "--port", str(free_port()))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def launch(root: Path, **extra) -> dict:
    """``python app.py`` on a free port with an isolated config; returns once /api/health answers."""
    config = isolated_config(root, **extra)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), "-c", str(config), "--no-browser", "--port", str(port)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{process.stdout.read()}")
        try:
            if httpx.get(f"{base}/api/health", timeout=1.0).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("server did not come up")
    return {"base": base, "process": process, "root": root, "port": port}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = launch(tmp_path_factory.mktemp("server"), limits={"max_upload_mb": 2.0})
    process = started["process"]
    yield started
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def photo_bytes() -> bytes:
    rgb = np.random.default_rng(11).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_real_server_predicts_downloads_and_hits_the_cache(server):
    base = server["base"]
    data = photo_bytes()
    first = httpx.post(f"{base}/api/predict", files={"file": ("p.jpg", data, "image/jpeg")}, timeout=60)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["backend"] == "preview" and body["cache_hit"] is False
    ply = PlyData.read(io.BytesIO(httpx.get(base + body["url"], timeout=30).content))
    assert ply["vertex"].count == body["num_gaussians"]
    second = httpx.post(f"{base}/api/predict", files={"file": ("p.jpg", data, "image/jpeg")}, timeout=60).json()
    assert second["cache_hit"] is True and second["id"] == body["id"]
    print(f"preview: {body['processing_time']:.3f} s, cache hit: {second['processing_time']:.4f} s")
    assert httpx.get(f"{base}/docs").status_code == 200
    assert "predict_requests_total" in httpx.get(f"{base}/metrics").text
    log_files = list((server["root"] / "logs").glob("mlsharp_*.log"))
    assert log_files and "PREVIEW BACKEND" in log_files[0].read_text()


def test_real_server_stops_reading_an_oversized_stream(server):
    """Chunked upload, no Content-Length: the 413 comes back while the client is still sending."""
    boundary = "b0undary"
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=30) as sock:
        head = (
            "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
        )
        sock.sendall(head.encode())
        part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n"
                "Content-Type: image/jpeg\r\n\r\n").encode()
        sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        chunk = b"\xff" * 65536
        sent = 0
        reply = b""
        sock.settimeout(0.05)
        while sent < 200 * len(chunk):  # would be 13 MB; the limit is 2 MB
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                reply += sock.recv(65536)
            except (socket.timeout, BlockingIOError):
                continue
            except ConnectionResetError:
                break
            if b"\r\n\r\n" in reply:
                break
        sock.settimeout(10)
        try:
            while b"}" not in reply:
                more = sock.recv(65536)
                if not more:
                    break
                reply += more
        except (socket.timeout, ConnectionResetError):
            pass
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"Upload too large: over the 2 MB limit" in reply
    assert sent < 13_000_000  # it did not wait for the whole body


def test_real_server_exits_0_on_sigint_and_removes_its_temp_files(server):
    process = server["process"]
    tmp_root = server["root"] / "tmp"
    assert any(p.name.startswith("run-") for p in tmp_root.iterdir())
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    assert not any(p.name.startswith("run-") for p in tmp_root.iterdir())
    assert "Traceback" not in output
    assert list((server["root"] / "cache").glob("*.ply"))  # cached results are kept


def test_sigterm_with_a_prediction_in_flight_exits_0_and_leaves_nothing_half_written(tmp_path):
    started = launch(tmp_path)
    process, base = started["process"], started["base"]
    try:
        rng = np.random.default_rng(3)
        photo = Image.fromarray(rng.integers(0, 256, (4000, 6000, 3), dtype=np.uint8))  # 24 MP: ~seconds
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=80)
        job = httpx.post(f"{base}/api/jobs", files={"file": ("big.jpg", buffer.getvalue(), "image/jpeg")},
                         timeout=60).json()
        deadline = time.monotonic() + TIMEOUT
        state = job["state"]
        while state == "queued" and time.monotonic() < deadline:
            state = httpx.get(f"{base}{job['status_url']}", timeout=10).json()["state"]
        assert state in ("running", "done")
    finally:
        process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert not any(p.name.startswith("run-") for p in (tmp_path / "tmp").iterdir())
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and (p.suffix in (".tmp", ".part") or ".tmp" in p.name)]
    assert leftovers == []
    for ply in tmp_path.rglob("*.ply"):  # whatever was kept is whole
        assert PlyData.read(str(ply))["vertex"].count > 0
