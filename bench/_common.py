"""What the bench scripts share: a free port, a real server started and stopped, photos, memory,
headless Chromium (the browser tests use the same driver set-up, from here).

Run bench scripts from the repository with the project installed (``pip install -e .``, which
``run_tests.sh`` and ``start.sh`` do); they import this module as ``_common`` (the script's own
folder is on ``sys.path``) and never each other or the tests.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--use-angle=swiftshader",  # WebGL2 in software: no GPU on CI machines
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jpeg(seed: int, width: int, height: int) -> bytes:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([xs * 255 // width, ys * 255 // height, (xs + ys) % 256], axis=-1)
    noise = rng.integers(0, 40, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def launch_server(root: Path, port: int, config: dict, timeout: float = 120.0) -> subprocess.Popen:
    """``python app.py`` with ``config`` (written to root/config.yaml) on ``port``, logging to
    root/server.log; returns once /api/health says the model is loaded."""
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    log_path = root / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), "-c", str(path), "--no-browser", "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early ({process.returncode}); end of {log_path}:\n"
                             f"{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json().get("model_loaded"):
                return process
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"server did not come up within {timeout:.0f} s")


def stop_server(process: subprocess.Popen, grace: float = 60.0) -> int:
    """Ctrl+C (a clean shutdown: workers stopped, temporary files removed), SIGKILL past ``grace``."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return out


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def worker_pids(server_pid: int) -> list[int]:
    pids = []
    for pid in process_tree(server_pid)[1:]:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            pids.append(pid)
    return pids


def split_rss(server_pid: int) -> tuple[float, float]:
    """(server process RSS, sum of its worker processes' RSS) in MB."""
    return rss_mb([server_pid]), rss_mb(worker_pids(server_pid))


def status_gb(field: str) -> float | None:
    """VmRSS / VmHWM of this process in GB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def checkpoint_or_random(checkpoint: Path | None, root: Path) -> Path:
    """``checkpoint``, or a full-size random-weights one saved under ``root`` (saying how long it took)."""
    if checkpoint is not None:
        return checkpoint
    checkpoint = root / "random_full_size.pt"
    seconds = random_checkpoint(checkpoint)
    print(f"random full-size checkpoint: {checkpoint.stat().st_size / 1e9:.2f} GB saved in {seconds:.1f} s")
    return checkpoint


def random_checkpoint(path: Path) -> float:
    """Save a full-size random-weights state dict; returns the seconds it took."""
    import torch

    from sharpnet.config import SharpConfig
    from sharpnet.models import build_model

    start = time.perf_counter()
    torch.manual_seed(0)
    model = build_model(SharpConfig())
    torch.save(model.state_dict(), path)
    return time.perf_counter() - start


def chromium_paths() -> tuple[str, str] | str:
    """(chromium, chromedriver), or the reason they cannot be used."""
    browser = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and os.path.exists(p)), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and os.path.exists(p)), None)
    if not browser or not driver:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p)
        return f"{missing} not installed (Debian: apt-get install chromium chromium-driver; run_tests.sh does it as root)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    return browser, driver


def make_driver(browser: str, driver: str, profile: Path, downloads: Path, size: tuple[int, int] = (1280, 860)):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads),
        "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """static/ at /static/ plus the scenes at /scenes/, like the service lays it out."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            clean = path.split("?", 1)[0]
            if clean.startswith("/scenes/"):
                return str(folder / clean[len("/scenes/"):])
            if clean in ("/", "/index.html"):
                return str(REPO / "static" / "index.html")
            return str(REPO / clean.lstrip("/"))

        def log_message(self, *args) -> None:  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def load_scene_js(f_px: float, width: int, height: int) -> str:
    """An async Selenium script: fetch a scene (URL, file name), load it into the page's viewer with the
    photo camera, and answer its timings once the first *complete* frame is on screen."""
    return """
const [url, name, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const t0 = performance.now();
fetch(url).then((r) => r.arrayBuffer()).then(async (buf) => {
  const fetchMs = Math.round(performance.now() - t0);
  const viewer = window.__mlsharpViewer;
  const loadStart = performance.now();
  const result = await viewer.load({
    bytes: new Uint8Array(buf), fileName: name, source: 'bench',
    camera: {fPx: %F%, width: %W%, height: %H%}});
  // "ready" is the first lit frame, which Spark may draw before its first depth sort of all the
  // splats lands. The complete frame is the one presented after that sort: two animation frames
  // after it, the draw that used it is on screen.
  await new Promise((resolve) => {
    const check = () => {
      const spark = viewer.spark;
      if (!spark.sorting && spark.lastSortTime >= loadStart) {
        requestAnimationFrame(() => requestAnimationFrame(resolve));
      } else {
        setTimeout(check, 20);
      }
    };
    check();
  });
  const fullFrameMs = Math.round(performance.now() - loadStart);
  done({fetchMs, fullFrameMs, ...result, blank: window.__viewerInfo.blank});
}).catch((e) => done({error: String(e)}));
""".replace("%F%", str(f_px)).replace("%W%", str(width)).replace("%H%", str(height))
