"""Large photos do not stay in the server: three 90 MP photos later, the server process's RSS is
still near its idle level (photos are decoded in the worker; the server only reads their header)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from svc_helpers import launch_app

SIDE = 9500  # 90 MP


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def big_photo(seed: int) -> bytes:
    """A smooth 90 MP JPEG (a few MB to upload, the full 90 MP to decode)."""
    gradient = Image.linear_gradient("L").resize((SIDE, SIDE))
    rgb = Image.merge("RGB", (gradient, gradient.rotate(90 * (seed % 4)), Image.new("L", (SIDE, SIDE), 40 * seed)))
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc for RSS")
def test_three_90_mp_photos_leave_the_server_near_its_idle_memory(tmp_path):
    process, port = launch_app(tmp_path, {
        "cache": {"dir": str(tmp_path / "cache")},
        "model": {"temp_dir": str(tmp_path / "tmp"), "checkpoint": str(tmp_path / "absent.pt")},
        "inference": {"input_size": [512, 512]}, "limits": {"max_pixels": 100_000_000},
        "performance": {"predict_timeout": 600.0},
    })
    try:
        base = f"http://127.0.0.1:{port}"
        idle = rss_mb(process.pid)
        after = []
        for seed in range(3):
            response = httpx.post(f"{base}/api/predict", files={"file": ("big.jpg", big_photo(seed), "image/jpeg")},
                                  timeout=600)
            assert response.status_code == 200, response.text
            after.append(rss_mb(process.pid))
        print(f"server RSS idle {idle:.0f} MB, after each 90 MP photo: {', '.join(f'{mb:.0f}' for mb in after)} MB")
        assert max(after) - idle < 300, (idle, after)  # a decoded 90 MP photo alone is 270 MB
    finally:
        process.kill()
        process.wait(timeout=30)
