"""Helpers for the browser tests: the real service in a subprocess, headless Chromium, pixels.

A module with a unique name (not ``helpers``) so pytest's rootdir-relative imports cannot mix it
up with another test folder's helpers.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench._common import chromium_paths, make_driver  # noqa: F401 - one driver set-up for tests and bench

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKGROUND = (0x14, 0x16, 0x1B)  # the viewer's clear colour (static/js/viewer.js)


def shapes_photo(path: Path, width: int = 640, height: int = 480) -> Path:
    """A photo with unmistakable structure: sky gradient, ground, red disc, yellow triangle, blue square."""
    ys = np.linspace(0.0, 1.0, height)[:, None]
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = (90 + 60 * ys).astype(np.uint8)
    pixels[..., 1] = (150 + 60 * ys).astype(np.uint8)
    pixels[..., 2] = 235
    pixels[height * 2 // 3:] = (60, 150, 60)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    s = width / 640
    draw.ellipse([80 * s, 120 * s, 240 * s, 280 * s], fill=(220, 40, 40))
    draw.rectangle([380 * s, 180 * s, 560 * s, 360 * s], fill=(40, 60, 200))
    draw.polygon([(320 * s, 60 * s), (400 * s, 170 * s), (240 * s, 170 * s)], fill=(250, 220, 30))
    image.save(path)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_service(root: Path, deadline_s: float = 90.0, overrides: dict | None = None,
                    gate: Path | None = None) -> Iterator[str]:
    """``python app.py`` on a free port with every file under ``root`` and the preview backend.

    ``overrides``: config sections merged over these ({"optimization": {"progressive": True}}).
    ``gate``: a folder; the service's forwards then wait for the test to open it (ui_gate.py).
    """
    import httpx

    config = {
        "browser": {"open": False},
        "logging": {"file": False, "dir": str(root / "logs"), "level": "WARNING"},
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), "backend": "preview", "checkpoint": str(root / "absent.pt")},
        "inference": {"input_size": [512, 512]},  # ~22k Gaussians for a 640x480 photo: quick in software GL
    }
    for section, values in (overrides or {}).items():
        config[section] = {**config.get(section, {}), **values}
    config_path = root / "config.json"
    config_path.write_text(json.dumps(config))
    port = free_port()
    log = open(root / "service.log", "wb")
    app_args = ["--no-browser", "--port", str(port), "-c", str(config_path)]
    launcher = ["app.py"] if gate is None else [str(Path(__file__).with_name("ui_gate.py")), str(gate)]
    # The repository first on the path: the gate script lives in tests/ui, and it (and the workers it
    # spawns) must import this checkout's mlsharp, not whichever one an editable install points at.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, *launcher, *app_args], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    try:
        end = time.monotonic() + deadline_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"service exited with {proc.returncode}: {(root / 'service.log').read_text()[-2000:]}")
            try:
                if httpx.get(base + "api/health", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"service not ready after {deadline_s} s")
            time.sleep(0.2)  # polling interval while the server starts, bounded by the deadline
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def wait_idle(driver, deadline_s: float = 120.0) -> None:
    """Until the viewer has drawn its last scheduled frame, seen twice in a row.

    Software WebGL can take seconds per frame; a screenshot taken while frames are queued can
    stall Chromium's renderer past chromedriver's 10 s limit, and would show a stale frame anyway.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    streak = {"n": 0}

    def settled(d) -> bool:
        idle = d.execute_script("return Boolean(window.__mlsharpViewer && window.__mlsharpViewer.idle)")
        streak["n"] = streak["n"] + 1 if idle else 0
        return streak["n"] >= 3

    WebDriverWait(driver, deadline_s, poll_frequency=0.25).until(settled)


def canvas_image(driver) -> Image.Image:
    """The viewer's current frame, read by the page itself (``SceneViewer.capture``).

    Not an element screenshot: that needs a compositor frame, and on a loaded 2-core machine with
    software WebGL Chromium can miss chromedriver's 10 s renderer limit waiting for one.
    """
    url = driver.execute_script("return window.__mlsharpViewer.capture()")
    header, _, data = url.partition(",")
    assert header == "data:image/png;base64", header[:40]
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def keep_screenshot(driver, path: Path) -> None:
    """A page screenshot for people to look at afterwards; never a test's evidence.

    Best effort: under load Chromium may not produce a compositor frame within chromedriver's
    10 s, and a missing picture must not fail a run whose assertions all read the canvas.
    """
    from selenium.common.exceptions import TimeoutException

    try:
        driver.save_screenshot(str(path))
    except TimeoutException:
        print(f"screenshot {path.name} skipped: the renderer was busy")


def lit_fraction(image: Image.Image, background=BACKGROUND, tolerance: int = 24) -> float:
    """Share of pixels that differ from the viewer's background colour."""
    pixels = np.asarray(image, dtype=np.int16)
    distance = np.abs(pixels - np.array(background, dtype=np.int16)).sum(axis=-1)
    return float((distance > tolerance).mean())


def photo_area(canvas: Image.Image, photo_w: int, photo_h: int) -> Image.Image:
    """Where the photo appears in the first frame: centred, fitted inside the canvas ("contain")."""
    cw, ch = canvas.size
    scale = min(cw / photo_w, ch / photo_h)
    w, h = photo_w * scale, photo_h * scale
    left, top = (cw - w) / 2, (ch - h) / 2
    return canvas.crop((round(left), round(top), round(left + w), round(top + h)))


def mean_abs_diff(a: Image.Image, b: Image.Image, size: tuple[int, int] = (64, 48)) -> float:
    pa = np.asarray(a.convert("RGB").resize(size, Image.BILINEAR), dtype=np.float32)
    pb = np.asarray(b.convert("RGB").resize(size, Image.BILINEAR), dtype=np.float32)
    return float(np.abs(pa - pb).mean())


def wait_for_file(folder: Path, suffix: str, deadline_s: float = 30.0) -> Path:
    """The first finished download in ``folder`` ending in ``suffix`` (Chromium writes .crdownload first)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        done = [p for p in folder.glob(f"*{suffix}") if p.is_file()]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} file appeared in {folder} within {deadline_s} s")
